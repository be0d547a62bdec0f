/**
 * The Kratos the systems call: the embedded identity server (real whoami, sessions minted
 * through the API login flow) or the fake whoami in bench/servers/whoami.ts.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startNode, type NodeChild } from './proc.js';

export type KratosKind = 'embedded' | 'fake';

export interface Kratos {
  kind: KratosKind;
  url: string;
  port: number;
  pid: number;
  /** whoami calls seen by the Kratos side since start. */
  whoamiCalls(): Promise<number>;
  /** `count` valid session tokens, created now (or named, for the fake). */
  sessions(prefix: string, count: number): Promise<string[]>;
  /** Revokes a session at Kratos directly (not through any system). */
  revoke(token: string): Promise<void>;
  /** A token Kratos will refuse. */
  invalidPrefix: string;
  stop(): Promise<void>;
}

export function embeddedAvailable(): boolean {
  return existsSync(fileURLToPath(new URL('../../src/identity/index.ts', import.meta.url)));
}

export async function startKratos(kind: KratosKind, delayMs: number): Promise<Kratos> {
  const args = delayMs > 0 ? [`--delay-ms=${delayMs}`] : [];
  const child: NodeChild<{ url: string; port: number; kind: KratosKind }> =
    kind === 'embedded' ? await startNode('servers/identity.ts', args, { timeoutMs: 120_000 }) : await startNode('servers/whoami.ts', args);
  return {
    kind,
    url: child.ready.url,
    port: child.ready.port,
    pid: child.pid,
    async whoamiCalls() {
      return (await child.ask<{ whoamiCalls: number }>({ op: 'stats' })).whoamiCalls;
    },
    async sessions(prefix, count) {
      return (await child.ask<{ tokens: string[] }>({ op: 'sessions', prefix, count }, 600_000)).tokens;
    },
    async revoke(token) {
      await child.ask({ op: 'revoke', token });
    },
    invalidPrefix: 'invalid.',
    stop: () => child.stop(),
  };
}
