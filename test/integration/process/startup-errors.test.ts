import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { startGateway } from '../../../src/start-gateway.js';
import { ListenError } from '../../../src/listen.js';
import { closeServer, listenOnFreePort, memoryLogger, testConfig } from '../../helpers/servers.js';

/** A taken port is reported by its configuration key, for every listener the process opens. */
for (const [key, build] of [
  ['proxy.listen', (port: number) => ({ proxy: { listen: { port } } })],
  ['admin.listen', (port: number) => ({ admin: { listen: { port } } })],
  [
    'embedded_kratos.public_listen',
    (port: number) => ({
      embedded_kratos: {
        enabled: true,
        config_file: resolve('config/kratos.yml'),
        dsn: ':memory:',
        public_listen: { port },
        admin_listen: { port: 0 },
      },
    }),
  ],
  ['demo_upstream.listen', (port: number) => ({ demo_upstream: { enabled: true, listen: { port } } })],
] as const) {
  test(`a taken port for ${key} is a ListenError naming ${key}`, async () => {
    const blocker = createServer();
    const port = Number(new URL(await listenOnFreePort(blocker)).port);
    try {
      const raw = build(port) as Record<string, unknown>;
      await assert.rejects(startGateway(testConfig(raw), { logger: memoryLogger().logger }), (err: unknown) => {
        assert.ok(err instanceof ListenError, String(err));
        assert.equal(err.message, `${key}: 127.0.0.1:${port} is already in use (choose another port in the configuration)`);
        return true;
      });
    } finally {
      await closeServer(blocker);
    }
  });
}
