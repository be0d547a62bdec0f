/** Reading the `session_token`s a request body could carry to the identity server. */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/**
 * Self-service and revocation bodies are a few hundred bytes. A larger body cannot be scanned
 * for a `session_token` without buffering it, so it is refused rather than forwarded unread.
 */
const MAX_SCANNED_BODY = 64 * 1024;

export async function readSmallBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_SCANNED_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Folds a JSON/form field name the way Go's encoding/json matches it to a struct tag (Kratos
 * decodes `{"SESSION_TOKEN": …}` into `session_token`, and folds `ſ`→`s`, Kelvin `K`→`k`).
 * Upper-casing first maps `ſ` to `S`; lower-casing then maps `S` and the Kelvin sign alike.
 */
function foldFieldName(name: string): string {
  return name.toUpperCase().toLowerCase();
}

const SESSION_TOKEN_FIELD = 'session_token';

/**
 * Every `session_token` a request body could carry to an identity server, or `unscannable`
 * when the body is in a form the gateway cannot read the way the IdP might: a compressed body
 * (body-parser inflates gzip/deflate/br), a non-UTF-8 charset (body-parser decodes UTF-16),
 * multipart. The body is read both as JSON (BOM stripped, as body-parser does) and as a form,
 * whatever the Content-Type says, and field names are compared folded: a token seen where
 * the IdP would not look costs one needless purge; one missed keeps a revoked session alive.
 */
export function sessionTokensInBody(body: Buffer, headers: IncomingHttpHeaders): string[] | 'unscannable' {
  const encoding = headers['content-encoding']?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') return 'unscannable';
  const contentType = (headers['content-type'] ?? '').toLowerCase();
  if (contentType.startsWith('multipart/')) return 'unscannable';
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/.exec(contentType)?.[1];
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') return 'unscannable';
  if (body.length === 0) return [];
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const tokens = new Set<string>();
  const take = (name: string, value: unknown) => {
    if (typeof value === 'string' && value.length > 0 && foldFieldName(name) === SESSION_TOKEN_FIELD) tokens.add(value);
  };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      for (const [name, value] of Object.entries(parsed)) take(name, value);
    }
  } catch {
    // Not JSON: read as a form below.
  }
  for (const [name, value] of new URLSearchParams(text)) take(name, value);
  return [...tokens];
}
