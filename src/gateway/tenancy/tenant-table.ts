/**
 * Host → the Kratos of `kratos_instances` that answers it, built once per configuration
 * snapshot: an exact host is one Map lookup, a wildcard one `endsWith` per configured wildcard
 * (overlaps are configuration errors, so at most one can match). A host no instance lists is
 * the top-level `kratos`'s: match() is undefined.
 *
 * The host is the one routes are matched against (the Host header; for the decision API the
 * original request's, from a trusted proxy's X-Forwarded-Host or the Host the proxy sent).
 */
import { hostMatches, parseHostPattern, type HostPattern } from '../../config/host-pattern.js';
import type { GatewayConfig } from '../../config/schema.js';
import { credentialExtractors, type CredentialExtractor } from '../pipeline/credentials/index.js';
import { normalizeHost } from '../routing/route-table.js';

/** One of kratos_instances, as a request on one of its hosts uses it. */
export interface KratosTenant {
  readonly name: string;
  readonly publicUrl: string;
  /** The credential sources with this instance's session cookie name. */
  readonly credentialSources: readonly CredentialExtractor[];
}

/** A host name as normalizeHost gives it: dot-separated labels of letters, digits, `-` and `_`. */
const HOST_NAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

export class TenantTable {
  private readonly exact = new Map<string, KratosTenant>();
  private readonly wildcards: Array<{ pattern: HostPattern; tenant: KratosTenant }> = [];
  readonly all: readonly KratosTenant[];

  constructor(instances: GatewayConfig['kratos_instances']) {
    const all: KratosTenant[] = [];
    for (const [name, c] of Object.entries(instances)) {
      const tenant: KratosTenant = { name, publicUrl: c.public_url, credentialSources: credentialExtractors(c.session_cookie) };
      all.push(tenant);
      for (const entry of c.hosts) {
        const pattern = parseHostPattern(entry);
        if (pattern.kind === 'exact') this.exact.set(pattern.name, tenant);
        else this.wildcards.push({ pattern, tenant });
      }
    }
    this.all = all;
  }

  /** The instance for this Host header (port ignored, any letter case), or undefined: the top-level kratos. */
  match(hostHeader: string | undefined): KratosTenant | undefined {
    if (hostHeader === undefined) return undefined;
    const host = normalizeHost(hostHeader);
    // Only a host name can be an instance's: a wildcard compares the end of the string, and
    // `evil.example/.acme.test` ends like `*.acme.test` too. The login URL is built on this
    // host (tenant-login.ts), so a match must be a host name whole, or it leads elsewhere.
    if (!HOST_NAME.test(host)) return undefined;
    const exact = this.exact.get(host);
    if (exact !== undefined) return exact;
    for (const w of this.wildcards) if (hostMatches(w.pattern, host)) return w.tenant;
    return undefined;
  }
}

/** The table, or undefined without kratos_instances (then no request looks at its host for this). */
export function tenantTable(config: GatewayConfig): TenantTable | undefined {
  return Object.keys(config.kratos_instances).length === 0 ? undefined : new TenantTable(config.kratos_instances);
}
