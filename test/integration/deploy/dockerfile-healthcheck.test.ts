/**
 * The image's HEALTHCHECK script run for real: node with the Dockerfile's script against a test
 * admin server (the rest of the Dockerfile is read without running anything, in
 * test/unit/deploy/dockerfile.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDockerfile, stages, type Instruction } from '../../unit/deploy/dockerfile-parse.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const allStages = stages(parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8')));
const runtime = allStages[allStages.length - 1];
if (!runtime) throw new Error('Dockerfile has no FROM');
const only = (list: Instruction[], keyword: string) => list.filter((i) => i.keyword === keyword);

describe('Dockerfile runtime', () => {
  it('the HEALTHCHECK script exits 0 when /health/alive answers 200 and 1 otherwise', async () => {
    const script = only(runtime.instructions, 'HEALTHCHECK')[0]!.json![2]!;
    let status = 200;
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(status).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const run = () =>
      new Promise<number>((done) => {
        const child = execFile(process.execPath, ['-e', script], {
          env: { ...process.env, KRATOS_GATEWAY_ADMIN__LISTEN__PORT: String(port) },
        });
        child.on('exit', (code) => done(code ?? -1));
      });
    try {
      assert.equal(await run(), 0);
      status = 503;
      assert.equal(await run(), 1);
      assert.deepEqual(seen, ['GET /health/alive', 'GET /health/alive']);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    // Nothing listening: unhealthy, not a hang.
    assert.equal(await run(), 1);
  });
});
