/**
 * `kratos_instances`: one Kratos per tenant, chosen by the request's host. What makes a set of
 * instances unusable is refused here, by key path:
 *
 *  - a name that is not a safe identifier: it is the `kratos` label of the whoami and cache
 *    metrics, and a segment of environment variable names (which the overrides lower-case);
 *    `default` names the top-level `kratos` there, so no instance may take it;
 *  - `hosts` of two instances that overlap (the same exact host, a wildcard covering another
 *    instance's host or wildcard): a host must have exactly one Kratos, or which one answers it
 *    would depend on the order of the file;
 *  - two instances (or one and the top-level `kratos`) at the same `public_url`: identity ids and
 *    sessions are per Kratos, and the cache keeps and purges them per instance, so a purge through
 *    one name would leave the other's entries of the very same session in place.
 *
 * Host patterns are an exact name or `*.suffix`, where `*` is one or more labels (as
 * `routes[].match.host` reads it): `*.example.com` matches `a.example.com` and `a.b.example.com`,
 * never `example.com` or `evil-example.com`. Compared lower-case, without port or trailing dot.
 */
import type { GatewayConfig } from './schema.js';
import { hostMatches, parseHostPattern, type HostPattern } from './host-pattern.js';

export const KRATOS_INSTANCE_NAME = /^[a-z][a-z0-9_]{0,31}$/;
/** The `kratos` metric label of the top-level `kratos` block. */
export const DEFAULT_KRATOS = 'default';

/** Whether some host matches both. `*.b.c` and `*.c` do (`x.b.c`); `a.c` and `*.c` do; `*.a.c` and `*.b.c` do not. */
function overlap(p: HostPattern, q: HostPattern): boolean {
  if (p.kind === 'exact') return hostMatches(q, p.name);
  if (q.kind === 'exact') return hostMatches(p, q.name);
  return p.suffix.endsWith(q.suffix) || q.suffix.endsWith(p.suffix);
}

function sameUrl(a: string, b: string): boolean {
  return new URL(a).href.replace(/\/$/, '') === new URL(b).href.replace(/\/$/, '');
}

export function kratosInstanceProblems(config: GatewayConfig): string[] {
  const problems: string[] = [];
  const entries = Object.entries(config.kratos_instances);
  for (const [name] of entries) {
    if (!KRATOS_INSTANCE_NAME.test(name))
      problems.push(`kratos_instances.${name}: an instance name is a lower-case letter, then up to 31 lower-case letters, digits or "_"`);
    else if (name === DEFAULT_KRATOS)
      problems.push(`kratos_instances.${name}: "${DEFAULT_KRATOS}" names the top-level kratos; choose another name`);
  }
  const seen: Array<{ at: string; entry: string; pattern: HostPattern; name: string }> = [];
  for (const [name, instance] of entries) {
    instance.hosts.forEach((entry, i) => {
      const at = `kratos_instances.${name}.hosts.${i}`;
      const pattern = parseHostPattern(entry);
      const other = seen.find((s) => overlap(s.pattern, pattern));
      if (other !== undefined)
        problems.push(
          other.name === name
            ? `${at}: "${entry}" overlaps ${other.at} ("${other.entry}") of the same instance; list it once`
            : `${at}: "${entry}" overlaps ${other.at} ("${other.entry}"): a host must have one Kratos`,
        );
      seen.push({ at, entry, pattern, name });
    });
  }
  // The embedded identity server is the top-level kratos (an instance is always a Kratos of its
  // own, at its public_url); with port 0 its URL is known only once it listens.
  const e = config.embedded_kratos;
  const urls: Array<[string, string]> = !e.enabled
    ? [['kratos.public_url', config.kratos.public_url]]
    : e.public_listen.port === 0
      ? []
      : [
          [
            'embedded_kratos.public_listen',
            `http://${e.public_listen.host.includes(':') ? `[${e.public_listen.host}]` : e.public_listen.host}:${e.public_listen.port}`,
          ],
        ];
  for (const [name, instance] of entries) {
    const at = `kratos_instances.${name}.public_url`;
    const same = urls.find(([, url]) => sameUrl(url, instance.public_url));
    if (same !== undefined)
      problems.push(`${at}: the same Kratos as ${same[0]} (one Kratos per instance: identity ids and sessions are per Kratos)`);
    urls.push([at, instance.public_url]);
  }
  return problems;
}
