/**
 * What a request carries, read the same way by every handler (Kratos's x/http.go and friends):
 * body fields, query parameters, cookies, its URL.
 */
import type { Request } from 'express';
import { parse } from 'cookie';

/** The URL as the server saw it: scheme from TLS, host from Host, query included (Kratos's request_url). */
export function requestUrl(req: Request): string {
  const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
  return `${tls ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}${req.originalUrl}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Form keys nest on dots (`traits.email`), and JSON bodies may use either form, as Kratos's
 * decoder accepts both.
 */
export function bodyOf(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (!isObject(body)) return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const parts = key.split('.');
    let cur = out;
    parts.forEach((p, i) => {
      if (i === parts.length - 1) {
        cur[p] = isObject(value) && isObject(cur[p]) ? { ...(cur[p] as object), ...value } : value;
      } else {
        if (!isObject(cur[p])) cur[p] = {};
        cur = cur[p] as Record<string, unknown>;
      }
    });
  }
  return out;
}

export function stringField(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  return typeof v === 'string' ? v : undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(v: unknown): v is string {
  return typeof v === 'string' && UUID.test(v);
}

export function queryParam(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

export function parseCookies(header: string | undefined): Record<string, string | undefined> {
  return header ? parse(header) : {};
}
