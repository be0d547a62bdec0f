import { BlockList, isIP } from 'node:net';
import { parseCidr } from '../config/cidr.js';

/**
 * The peers whose `X-Forwarded-*` headers are believed. Empty by default: nobody's are
 * (oauth2-proxy GHSA-7x63-xv5r-3p2x, Oathkeeper GHSA-vhr5-ggp3-qq85).
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  /** `cidrs` come from a validated configuration (config/load.ts reports bad entries by key path). */
  constructor(cidrs: readonly string[]) {
    this.empty = cidrs.length === 0;
    for (const entry of cidrs) {
      const cidr = parseCidr(entry);
      if (typeof cidr === 'string') throw new Error(`trusted proxies: ${cidr}`);
      if (cidr.bits === undefined) this.list.addAddress(cidr.address, cidr.type);
      else this.list.addSubnet(cidr.address, cidr.bits, cidr.type);
    }
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
