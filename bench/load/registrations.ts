/**
 * Registration load for bench/identity-isolation.ts, in its own process so it never shares
 * an event loop with the probe. On `{op:'run', url, seconds, concurrency, kind}` it runs
 * `concurrency` loops of "init an API registration flow, submit it" against the gateway's
 * Kratos mount for `seconds`, then answers with counts. Loopback only, bounded in time.
 *
 * kinds: `valid` — a 1024-character password and a 255-character email (the largest inputs
 * the password policy accepts, so the similarity check does its maximum work, then argon2
 * and an SQLite insert); `oversized` — the oversized sign-up that once froze the data plane (32 KB password, 8 KB email);
 * `mixed` — half the loops each.
 */
import { randomBytes } from 'node:crypto';
import { serveIpc } from '../lib/proc.js';

const MOUNT = '/.ory/kratos/public';
let seq = 0;

function payload(kind: 'valid' | 'oversized'): string {
  if (kind === 'oversized')
    return JSON.stringify({
      method: 'password',
      password: 'Zq9!' + 'k'.repeat(32_000),
      traits: { email: 'b'.repeat(8000) + '@example.test' },
    });
  const id = `${process.pid}-${seq++}-`;
  const email = id + 'b'.repeat(255 - id.length - '@example.test'.length) + '@example.test';
  const password = ('Zq9!' + randomBytes(800).toString('base64')).slice(0, 1024);
  return JSON.stringify({ method: 'password', password, traits: { email, name: { first: 'Bench', last: 'Mark' } } });
}

async function once(url: string, kind: 'valid' | 'oversized'): Promise<number> {
  const init = await fetch(url + MOUNT + '/self-service/registration/api', { headers: { accept: 'application/json' } });
  const flow = (await init.json()) as { id: string };
  const res = await fetch(url + MOUNT + `/self-service/registration?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: payload(kind),
  });
  await res.arrayBuffer();
  return res.status;
}

serveIpc(
  { pid: process.pid },
  {
    run: async (m) => {
      const url = String(m.url);
      const until = Date.now() + Number(m.seconds) * 1000;
      const kind = String(m.kind);
      const statuses: Record<string, number> = {};
      await Promise.all(
        Array.from({ length: Number(m.concurrency) }, async (_, loop) => {
          // mixed: half the loops send valid sign-ups, half oversized ones.
          const k = kind === 'mixed' ? (loop % 2 === 0 ? 'valid' : 'oversized') : (kind as 'valid' | 'oversized');
          while (Date.now() < until) {
            const status = await once(url, k).catch(() => 0);
            statuses[`${k} ${status}`] = (statuses[`${k} ${status}`] ?? 0) + 1;
          }
        }),
      );
      return { statuses };
    },
  },
);
