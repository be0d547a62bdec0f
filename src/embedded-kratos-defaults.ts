import type { GatewayConfig } from './config/schema.js';

type Obj = Record<string, unknown>;

function obj(parent: Obj, key: string): Obj {
  const v = parent[key];
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Obj;
  const created: Obj = {};
  parent[key] = created;
  return created;
}

/**
 * The embedded identity server lives behind the gateway's mount, so its public base URL,
 * UI URLs and return URL follow from the gateway's own configuration unless kratos.yml sets
 * them. That keeps one source of truth for ports in the quickstart and in tests.
 */
export function withDerivedKratosDefaults(raw: unknown, gateway: GatewayConfig): Obj {
  const config: Obj = raw !== null && typeof raw === 'object' ? structuredClone(raw as Obj) : {};
  const origin = new URL(gateway.proxy.public_base_url).origin;
  const publicUrl = obj(obj(config, 'serve'), 'public');
  publicUrl.base_url ??= `${origin}${gateway.kratos.mount_prefix}/`;
  const selfservice = obj(config, 'selfservice');
  selfservice.default_browser_return_url ??= `${origin}/`;
  const flows = obj(selfservice, 'flows');
  for (const flow of ['login', 'registration', 'settings', 'recovery', 'verification', 'error']) {
    obj(flows, flow).ui_url ??= `${origin}${gateway.ui.prefix}/${flow}`;
  }
  obj(obj(flows, 'logout'), 'after').default_browser_return_url ??= `${origin}${gateway.ui.prefix}/login`;
  const allowed = Array.isArray(selfservice.whitelisted_return_urls) ? (selfservice.whitelisted_return_urls as unknown[]) : [];
  if (!allowed.includes(origin)) selfservice.whitelisted_return_urls = [...allowed, origin];
  return config;
}
