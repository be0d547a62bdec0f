/**
 * return_to validation. A redirect target is accepted only as an absolute http(s) URL on an
 * allow-listed host, with no userinfo, whitespace, control characters or backslashes: the
 * forms behind oauth2-proxy CVE-2020-5233 / CVE-2020-11053 and friends (`//evil`, `/\evil`,
 * `/%09/evil`, `https://ours@evil`).
 */
export class ReturnToPolicy {
  private readonly allowedHosts: ReadonlySet<string>;

  /** `allowedHosts` are `host` or `host:port`; `publicBaseUrl`'s host is always allowed. */
  constructor(publicBaseUrl: string, allowedHosts: readonly string[]) {
    const base = new URL(publicBaseUrl);
    this.allowedHosts = new Set([base.host.toLowerCase(), ...allowedHosts.map((h) => h.toLowerCase())]);
  }

  /** The normalised URL string when allowed, otherwise undefined. */
  validate(candidate: string): string | undefined {
    if (candidate.length === 0 || candidate.length > 4096) return undefined;
    // Reject before URL parsing, which silently strips tabs/newlines and turns `\` into `/`.
    if (/[\x00-\x20\x7f\\]/.test(candidate)) return undefined;
    if (!/^https?:\/\/[^/]/i.test(candidate)) return undefined;
    let url: URL;
    try {
      url = new URL(candidate);
    } catch {
      return undefined;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (url.username !== '' || url.password !== '') return undefined;
    if (!this.allowedHosts.has(url.host.toLowerCase())) return undefined;
    return url.href;
  }
}
