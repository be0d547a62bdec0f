/**
 * The configuration snapshot: everything derived from a validated configuration that a
 * request reads — routes, credential sources, authorizers, mutators, the protected and
 * injected header sets, trusted proxies, the login settings. Built whole, never changed; a
 * reload builds a new one and swaps it in (GatewayResources.swap). A request reads `snapshot`
 * once when it arrives and uses only that object afterwards, so in-flight requests finish on
 * the snapshot they started with.
 */
import { createHash } from 'node:crypto';
import { claimPaths, parsePolicy } from '../config/policy.js';
import type { GatewayConfig } from '../config/schema.js';
import { credentialSourceRegistry, type CredentialExtractor } from './pipeline/credentials/index.js';
import { sessionCookie } from './pipeline/credentials/session-cookie.js';
import { AAL_PATH, AMR_PATH } from './assertion/minter.js';
import { buildMutators, type HeaderMutator } from './pipeline/mutators/index.js';
import type { IdentityAssertionMutator } from './pipeline/mutators/identity-assertion.js';
import { ReturnToPolicy } from './return-to.js';
import { RouteTable, type Route } from './routing/route-table.js';
import { TrustedProxies } from './trusted-proxies.js';
import { buildAuthorizers, type Authorizer } from './pipeline/authz/index.js';
import { CallerHeaderPlan } from './pipeline/caller-headers.js';
import { tenantTable, type TenantTable } from './tenancy/tenant-table.js';

/**
 * The method-override family (Rack, express method-override, Symfony, ASP.NET):
 * the upstream serves the request as the method the header names, not the one on the request
 * line the gateway judged.
 */
export const METHOD_OVERRIDE_HEADERS: ReadonlySet<string> = new Set(['x-http-method-override', 'x-http-method', 'x-method-override']);

/**
 * Headers that make upstream frameworks route or dispatch on something other than the request
 * line the gateway matched: Symfony/Laminas/IIS `X-Original-URL`/`X-Rewrite-URL`, and the
 * method-override family. A client could use them to reach a protected path through an
 * anonymous route, or to defeat a route's method list, so they are protected like the headers
 * mutators set.
 */
export const ROUTING_OVERRIDE_HEADERS = ['x-original-url', 'x-rewrite-url', ...METHOD_OVERRIDE_HEADERS];

/** sha256 of the validated configuration, short: a log field and a metric label. */
export function configHash(config: GatewayConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 12);
}

export class ConfigSnapshot {
  readonly routes: RouteTable;
  /** In precedence order (credentials/index.ts). */
  readonly credentialSources: readonly CredentialExtractor[];
  /**
   * Every session cookie name this process has been configured with, the current one first.
   * A name a reload replaced is no longer read, but is still removed upstream until the
   * restart: the identity server (the embedded one keeps its cookie name until then) may still
   * issue and honour it, so it is a live credential no upstream may be handed.
   */
  readonly sessionCookieNames: ReadonlySet<string>;
  /** Only those that can refuse (allow-all is left out). */
  readonly authorizers: readonly Authorizer[];
  /** Routes on which some authorizer's answer can depend on the method (a route policy's `methods`). */
  readonly methodDependentRoutes: ReadonlySet<Route>;
  readonly mutators: readonly HeaderMutator[];
  /** The identity assertion mutator when enabled (the decision API returns its header; the JWKS endpoints read its keys). */
  readonly assertion: IdentityAssertionMutator | undefined;
  /** The JWKS body when the assertion is enabled and signed here (not with tokenize_as). */
  readonly jwksBody: string | undefined;
  /**
   * Normalised names stripped from every request: what every mutator declares it `sets`, plus
   * the routing-override headers; `X-Kratos-*` always. After a reload, also every name an
   * earlier snapshot of this process protected: an identity header a reload removes may still be
   * trusted by an upstream that was not redeployed, so a caller must not be able to set it
   * until the process restarts.
   */
  readonly protectedHeaderNames: ReadonlySet<string>;
  /** Names the gateway sets upstream (every mutator's `sets` and `extends`); a `Connection` token can never remove them. */
  readonly injectedHeaderNames: ReadonlySet<string>;
  /** The sets above and the mutators, arranged for the one walk over the caller's headers (pipeline/caller-headers.ts). */
  readonly callerHeaders: CallerHeaderPlan;
  readonly trustedProxies: TrustedProxies;
  readonly returnTo: ReturnToPolicy;
  readonly publicOrigin: string;
  readonly loginUrl: string;
  readonly returnToParam: string;
  /** Host → one of kratos_instances (tenancy/tenant-table.ts); undefined without any: every host is the top-level kratos's. */
  readonly tenants: TenantTable | undefined;
  readonly hash: string;

  /**
   * `hash`: of the configuration as loaded (default: of `config`). `previous`: the snapshot a
   * reload replaces, whose protected names stay protected and whose session cookie names stay
   * removed upstream.
   */
  constructor(
    readonly config: GatewayConfig,
    hash = configHash(config),
    previous?: ConfigSnapshot,
  ) {
    this.hash = hash;
    this.routes = new RouteTable(config.routes, config.identity_headers);
    this.credentialSources = credentialSourceRegistry.map((build) => build(config));
    this.authorizers = buildAuthorizers(config);
    this.methodDependentRoutes = new Set(this.routes.all.filter((r) => this.authorizers.some((a) => a.readsMethod(r))));
    // An instance's session cookie is a Kratos credential too: removed upstream on every host.
    const instanceCookies = Object.values(config.kratos_instances).map((k) => k.session_cookie);
    this.sessionCookieNames = new Set([config.kratos.session_cookie, ...instanceCookies, ...(previous?.sessionCookieNames ?? [])]);
    this.tenants = tenantTable(config);
    const retiredCredentialSources = [...this.sessionCookieNames].slice(1).map((name) => sessionCookie(name));
    this.mutators = buildMutators({ config, credentialSources: this.credentialSources, retiredCredentialSources });
    this.assertion = this.mutators.find((m): m is IdentityAssertionMutator => 'minter' in m);
    this.jwksBody = this.assertion?.minter?.jwksBody;
    this.trustedProxies = new TrustedProxies(config.proxy.trusted_proxies);
    this.returnTo = new ReturnToPolicy(config.proxy.public_base_url, config.login.allowed_return_to_hosts);
    this.publicOrigin = new URL(config.proxy.public_base_url).origin;
    this.loginUrl = config.login.redirect_url ?? `${this.publicOrigin}${config.kratos.mount_prefix}/self-service/login/browser`;
    this.returnToParam = config.login.return_to_param;

    const protectedNames = new Set<string>([...ROUTING_OVERRIDE_HEADERS, ...(previous?.protectedHeaderNames ?? [])]);
    const injected = new Set<string>();
    for (const m of this.mutators) {
      for (const name of m.sets) {
        protectedNames.add(name);
        injected.add(name);
      }
      for (const name of m.extends ?? []) injected.add(name);
    }
    for (const name of protectedNames) injected.add(name);
    this.protectedHeaderNames = protectedNames;
    this.injectedHeaderNames = injected;
    this.callerHeaders = new CallerHeaderPlan(protectedNames, injected, this.mutators);
  }

  /** The session value paths identity headers, route policies and the identity assertion read (the resolver extracts only these). */
  get valuePaths(): string[] {
    const paths = new Set<string>();
    for (const mapping of [this.config.identity_headers, ...this.config.routes.map((r) => r.identity_headers ?? {})]) {
      for (const path of Object.values(mapping)) paths.add(path);
    }
    this.config.routes.forEach((r, i) => {
      if (r.policy === undefined) return;
      // Validated by parseConfig; the problems list is only for its contract.
      const c = parsePolicy(r.policy, `routes.${i}.policy`, []);
      if (c !== undefined) claimPaths(c, paths);
    });
    // Kratos's JWT (tokenize_as) needs no session values: its claims are its template's.
    if (this.assertion?.minter !== undefined) {
      for (const path of [AAL_PATH, AMR_PATH, ...Object.values(this.config.identity_assertion.claims)]) paths.add(path);
    }
    return [...paths];
  }
}
