import { isIP } from 'node:net';

/** One `proxy.trusted_proxies` entry: an address, or an address with a prefix length. */
export interface Cidr {
  address: string;
  type: 'ipv4' | 'ipv6';
  /** Undefined for a single address. */
  bits: number | undefined;
}

/** Parses an IP address or CIDR; a string is the reason it is not one. */
export function parseCidr(entry: string): Cidr | string {
  const [address = '', bitsText, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0) return `"${entry}" is not an IP address or CIDR`;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (bitsText === undefined) return { address, type, bits: undefined };
  // Digits only: Number('') is 0, and "10.0.0.0/" must not mean "trust every address".
  const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (rest.length > 0 || !(bits >= 0 && bits <= (family === 6 ? 128 : 32))) return `"${entry}" has an invalid prefix length`;
  return { address, type, bits };
}
