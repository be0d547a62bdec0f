import { BlockList, isIP } from 'node:net';

export class TrustedProxyConfigError extends Error {}

/**
 * The peers whose `X-Forwarded-*` headers are believed. Empty by default: nobody's are
 * (oauth2-proxy GHSA-7x63-xv5r-3p2x, Oathkeeper GHSA-vhr5-ggp3-qq85).
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    this.empty = cidrs.length === 0;
    cidrs.forEach((entry, i) => {
      const [addr, bitsText, ...rest] = entry.split('/');
      const family = isIP(addr ?? '');
      if (family === 0) throw new TrustedProxyConfigError(`proxy.trusted_proxies.${i}: "${entry}" is not an IP address or CIDR`);
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (bitsText === undefined) {
        this.list.addAddress(addr!, type);
        return;
      }
      // Digits only: Number('') is 0, and "10.0.0.0/" must not mean "trust every address".
      const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
      if (rest.length > 0 || !(bits >= 0 && bits <= (family === 6 ? 128 : 32))) {
        throw new TrustedProxyConfigError(`proxy.trusted_proxies.${i}: "${entry}" has an invalid prefix length`);
      }
      this.list.addSubnet(addr!, bits, type);
    });
  }

  trusts(address: string | undefined): boolean {
    if (this.empty || address === undefined) return false;
    const v4mapped = address.startsWith('::ffff:') ? address.slice(7) : address;
    const family = isIP(v4mapped);
    if (family === 0) return false;
    return this.list.check(v4mapped, family === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The client address: walk `X-Forwarded-For` right to left past trusted proxies; the first
   * untrusted hop is the client. Left-most-first parsing lets any client choose its address.
   */
  clientAddress(peer: string | undefined, xff: string | undefined): string | undefined {
    if (!this.trusts(peer) || xff === undefined) return peer;
    const hops = xff.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!.trim();
      if (!this.trusts(hop)) return isIP(hop) !== 0 ? hop : peer;
    }
    return hops[0]?.trim() || peer;
  }
}
