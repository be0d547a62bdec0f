import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { AccessLog } from '../../../src/gateway/access-log.js';
import { createLogger, formatPrettyLine } from '../../../src/log.js';

function sink() {
  const out: string[] = [];
  return { out, stream: new Writable({ write: (c: Buffer, _e, cb) => (out.push(c.toString()), cb()) }) };
}

test('log.format pretty: pino lines and access lines become short human-readable lines, still redacted', () => {
  const { out, stream } = sink();
  const logger = createLogger('info', stream, 'pretty');
  logger.child({ component: 'identity' }).warn({ headers: { cookie: 'ory_kratos_session=SECRET' }, port: 4433 }, 'something happened');
  new AccessLog(logger, true).write('req-1', '127.0.0.1', 'app', 'GET', '/a/b', 200, 1.5, 'id-1', '', 0.9);
  const text = out.join('');
  const lines = text.split('\n').filter(Boolean);
  assert.equal(lines.length, 2);
  assert.match(
    lines[0]!,
    /^\d\d:\d\d:\d\d\.\d{3} WARN {2}\[identity\] something happened {2}headers=\{"cookie":"\[REDACTED\]"\} port=4433$/,
  );
  assert.match(
    lines[1]!,
    /^\d\d:\d\d:\d\d\.\d{3} INFO {2}request {2}reqId=req-1 client=127\.0\.0\.1 route=app method=GET path=\/a\/b status=200 ms=1\.5 upstream_ms=0\.9 identity=id-1$/,
  );
  assert.ok(!text.includes('SECRET'));
});

test('a line that is not JSON passes through unchanged', () => {
  assert.equal(formatPrettyLine('plain text'), 'plain text');
});

test('log.format json (the default) writes the JSON line as is', () => {
  const { out, stream } = sink();
  createLogger('info', stream).info({ a: 1 }, 'hello');
  const o = JSON.parse(out.join('')) as Record<string, unknown>;
  assert.equal(o.msg, 'hello');
  assert.equal(o.a, 1);
});
