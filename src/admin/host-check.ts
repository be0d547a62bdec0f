/**
 * DNS rebinding defence for the admin listener. A page on `evil.example` that re-points its
 * name at 127.0.0.1 (or a pod IP) can make a browser send same-origin requests to the admin
 * port — purge, metrics — and read the answers. Those requests carry the attacker's *name* in
 * `Host`: the browser cannot be made to send a name the attacker does not control. So the
 * listener answers an IP literal (what kubelet probes and Prometheus send: `Host: <pod IP>:<port>`),
 * `localhost`, its configured listen host, and the names in `admin.allowed_hosts`; any other
 * name is 421 Misdirected Request. The port is not compared: a Service or port-forward may
 * front the listener on another port, and rebinding is about the name.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The host name of a Host header, lower-cased and without its port; undefined when malformed. */
export function hostName(header: string): string | undefined {
  if (header.startsWith('[')) {
    const end = header.indexOf(']');
    if (end === -1) return undefined;
    const rest = header.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    const literal = header.slice(1, end);
    return isIPv6(literal) ? `[${literal.toLowerCase()}]` : undefined;
  }
  const m = /^([^:]+)(?::\d{1,5})?$/.exec(header);
  return m ? m[1]!.toLowerCase() : undefined;
}

export class AdminHostPolicy {
  private readonly names: ReadonlySet<string>;

  constructor(listenHost: string, allowedHosts: readonly string[]) {
    this.names = new Set(['localhost', listenHost.toLowerCase(), ...allowedHosts.map((h) => h.toLowerCase())]);
  }

  /**
   * No Host at all is allowed: Node already refuses HTTP/1.1 without one, and a browser
   * always sends it, so an HTTP/1.0 request without Host is not a rebinding attempt.
   */
  allows(header: string | undefined): boolean {
    if (header === undefined) return true;
    const name = hostName(header);
    if (name === undefined) return false;
    if (name.startsWith('[') || isIPv4(name)) return true;
    return this.names.has(name);
  }
}
