/**
 * Review: a prefix the schema accepts must start; one that cannot start must be a ConfigError
 * naming the key ("a bad file or value exits non-zero with the key path and the
 * reason"). express 5 (path-to-regexp 8) gives `(`, `)`, `*`, `!`, `:` … special meaning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/config/load.js';
import { startFakeKratos, startTestGateway } from '../../helpers/servers.js';

for (const [key, raw] of [
  ['kratos.mount_prefix', (p: string) => ({ kratos: { mount_prefix: p } })],
  ['ui.prefix', (p: string) => ({ ui: { enabled: true, prefix: p } })],
] as const) {
  for (const prefix of ['/a(b', '/v1*', '/a!b']) {
    test(`${key} "${prefix}": starts, or is refused as a ConfigError naming ${key}`, async () => {
      const kratos = await startFakeKratos();
      const cfg = raw(prefix) as Record<string, unknown>;
      cfg.kratos ??= {};
      (cfg.kratos as Record<string, unknown>).public_url = kratos.url;
      try {
        const gw = await startTestGateway({ ...cfg, routes: [] });
        await gw.shutdown();
      } catch (err) {
        assert.ok(err instanceof ConfigError, `start-up failed with ${(err as Error).name}: ${(err as Error).message}`);
        assert.match(String((err as ConfigError).problems), new RegExp(key.replace('.', '\\.')));
      } finally {
        await kratos.close();
      }
    });
  }
}
