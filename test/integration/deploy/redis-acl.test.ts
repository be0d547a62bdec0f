/**
 * The ACL user the fleet guide recommends (examples/values-fleet.yaml, docs/fleet.md): the line
 * is the one generated from the commands the gateway declares it sends, and applied verbatim to
 * a real redis-server and used through ioredis the way the gateway connects (user in the URL,
 * password given separately), the gateway's own permission check finds nothing refused, while
 * nothing outside the prefix, nor any command the gateway does not send, is allowed. (The
 * gateway's real store and two gateways on this user: test/integration/session/shared-cache-acl.test.ts.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parse as parseYaml } from 'yaml';
import { startRedis, type TestRedis } from '../../helpers/redis.js';
import { configSchema } from '../../../src/config/schema.js';
import { aclCommandIn } from '../../unit/deploy/acl-command.js';
import { aclSetUser } from '../../../src/gateway/session/store/redis/scripts.js';
import { probePermissions } from '../../../src/gateway/session/store/redis/permission-probe.js';
import { chartDir } from '../../unit/deploy/values-schema.js';

const exampleText = readFileSync(join(chartDir, 'examples/values-fleet.yaml'), 'utf8');
const prefix = configSchema.parse((parseYaml(exampleText) as { config: unknown }).config).session_cache.shared.key_prefix;
const password = randomBytes(18).toString('base64url');

describe('the recommended Redis ACL user (real redis-server)', () => {
  let redis: TestRedis & { close(): Promise<void> };
  const clients: Redis[] = [];
  const connect = () => {
    // As the gateway is configured: the user from the URL, the password from the mounted file.
    // (Not `new Redis(url, { password })`: ioredis reads `redis://user@host` as password "",
    // and the URL's values win over the options object.)
    const c = new Redis({
      host: '127.0.0.1',
      port: redis.port,
      username: 'kratos-gateway',
      password,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    clients.push(c);
    return c;
  };
  const refused = async (p: Promise<unknown>, what: string) => {
    await assert.rejects(p, /NOPERM|no permissions/i, what);
  };

  before(async () => {
    redis = await startRedis();
    const args = aclCommandIn(exampleText, /^#/).replace('GATEWAY_PASSWORD', password).split(/\s+/);
    assert.deepEqual(args.slice(0, 3), ['ACL', 'SETUSER', 'kratos-gateway']);
    assert.equal(await redis.command(...args), '+OK\r\n');
    // Someone else's data on the same server.
    assert.equal(await redis.command('SET', 'other-app:data', 'keep'), '+OK\r\n');
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    await redis?.close();
  });

  it("the example key prefix is the one the ACL names, and the line is the one generated from the gateway's commands", () => {
    assert.equal(prefix, 'kratos-gateway:');
    assert.equal(aclCommandIn(exampleText, /^#/), aclSetUser(prefix));
  });

  it('keys under the prefix: set with a TTL, read, extend, delete', async () => {
    const c = connect();
    assert.equal(await c.ping(), 'PONG');
    assert.equal(await c.set(`${prefix}s:abc`, '{"identity":"i"}', 'PX', 60_000, 'NX'), 'OK');
    assert.equal(await c.get(`${prefix}s:abc`), '{"identity":"i"}');
    assert.equal(await c.pexpire(`${prefix}s:abc`, 30_000), 1);
    assert.ok((await c.pttl(`${prefix}s:abc`)) > 0);
    assert.equal(await c.del(`${prefix}s:abc`), 1);
  });

  it("the gateway's permission check (every command its scripts call, EVAL, EVALSHA) finds nothing refused", async () => {
    const c = connect();
    const report = await probePermissions(c, [`${prefix}hb:x`, `${prefix}hb:x:set`], [`${prefix}invalidate`], (p) => p);
    assert.deepEqual(report, { missing: [], errors: [] });
    // A script touching a key outside the prefix is still refused.
    await refused(c.eval('return redis.call("GET", KEYS[1])', 1, 'other-app:data'), 'a script touching a key outside the prefix');
  });

  it('publish and subscribe on channels under the prefix', async () => {
    const sub = connect();
    const pub = connect();
    const got = new Promise<[string, string]>((resolve) => sub.on('message', (ch: string, msg: string) => resolve([ch, msg])));
    await sub.subscribe(`${prefix}invalidate`);
    assert.equal(await pub.publish(`${prefix}invalidate`, 'h:0123abcd'), 1);
    assert.deepEqual(await got, [`${prefix}invalidate`, 'h:0123abcd']);
  });

  it('refuses keys and channels outside the prefix', async () => {
    const c = connect();
    await refused(c.get('other-app:data'), 'GET outside the prefix');
    await refused(c.set('other-app:data', 'x'), 'SET outside the prefix');
    await refused(c.del('other-app:data'), 'DEL outside the prefix');
    await refused(c.publish('other-app:events', 'x'), 'PUBLISH outside the prefix');
    const sub = connect();
    await refused(sub.subscribe('other-app:events'), 'SUBSCRIBE outside the prefix');
  });

  it('refuses keyspace-wide and administrative commands', async () => {
    const c = connect();
    await refused(c.flushall(), 'FLUSHALL');
    await refused(c.flushdb(), 'FLUSHDB');
    await refused(c.swapdb(0, 1), 'SWAPDB');
    await refused(c.keys('*'), 'KEYS');
    await refused(c.config('GET', 'requirepass'), 'CONFIG');
    await refused(c.call('ACL', 'LIST'), 'ACL LIST');
    await refused(c.info(), 'INFO');
    await refused(c.call('SHUTDOWN'), 'SHUTDOWN');
    await refused(c.call('SCRIPT', 'FLUSH'), "SCRIPT FLUSH (empties every application's script cache)");
    await refused(c.call('FUNCTION', 'FLUSH'), 'FUNCTION FLUSH');
    await refused(c.mget(`${prefix}s:abc`), 'MGET: a command the gateway does not send');
    assert.equal(await redis.command('GET', 'other-app:data'), '$4\r\nkeep\r\n', 'the other application keeps its data');
  });

  it('refuses a wrong password', async () => {
    const c = new Redis({
      host: '127.0.0.1',
      port: redis.port,
      username: 'kratos-gateway',
      password: 'wrong',
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    clients.push(c);
    const errors: Error[] = [];
    c.on('error', (e: Error) => errors.push(e));
    await assert.rejects(c.connect());
    assert.match(errors.map((e) => e.message).join('\n'), /WRONGPASS/);
  });
});
