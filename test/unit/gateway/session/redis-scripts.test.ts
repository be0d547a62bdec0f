/**
 * One source for the Redis commands the gateway sends: each script's declared commands are the
 * ones its Lua text calls, the permission check at connect runs every one of them, and every
 * ACL line the documentation shows is the one generated from them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCRIPTS, TOP_LEVEL, aclSetUser, commandsSent } from '../../../../src/gateway/session/store/redis/scripts.js';
import { PROBE } from '../../../../src/gateway/session/store/redis/permission-probe.js';
import { aclCommandIn } from '../../deploy/acl-command.js';
import { repoRoot } from '../../deploy/values-schema.js';

/** The command names a Lua text calls: redis.call('NAME', …) / redis.pcall("NAME", …), upper case. */
function calledIn(lua: string): string[] {
  const names = [...lua.matchAll(/redis\.p?call\(\s*(['"])(\w+)\1/g)].map((m) => m[2]!.toUpperCase());
  // A call whose name is not a literal could be any command: not allowed in a script.
  const all = [...lua.matchAll(/redis\.p?call\(/g)].length;
  assert.equal(names.length, all, 'every redis.call/pcall names its command as a literal');
  return [...new Set(names)].sort();
}

test('each script declares exactly the commands its Lua text calls', () => {
  for (const [name, script] of Object.entries(SCRIPTS))
    assert.deepEqual([...script.calls].sort(), calledIn(script.lua), `${name}: declared vs. called`);
});

test('the declarations would notice a command they left out', () => {
  // The parser itself: a script calling PEXPIRE through pcall and GET through call.
  assert.deepEqual(calledIn(`redis.pcall('PEXPIRE', KEYS[1], 1) local v = redis.call("get", KEYS[1])`), ['GET', 'PEXPIRE']);
  assert.throws(() => calledIn(`local c = 'DEL' redis.call(c, KEYS[1])`));
});

test('the permission check runs every command the gateway sends but the ones it checks otherwise', () => {
  // EVAL (how it is sent), EVALSHA (tried apart), SUBSCRIBE (the store's own subscription), AUTH (allowed to every user).
  const elsewhere = new Set(['AUTH', 'EVAL', 'EVALSHA', 'SUBSCRIBE']);
  // The probe runs each command through try('NAME', …), which calls redis.pcall(name, …).
  const probed = [...new Set([...PROBE.matchAll(/try\('(\w+)'/g)].map((m) => m[1]!))].sort();
  assert.deepEqual(
    probed,
    commandsSent().filter((c) => !elsewhere.has(c)),
  );
  for (const c of TOP_LEVEL) assert.ok(commandsSent().includes(c));
});

test('every ACL line in the documentation and the chart example is the generated one', () => {
  const sources: [string, RegExp][] = [
    ['docs/fleet.md', /^/],
    ['docs/deploying.md', /^\s*`/], // in a list item, as inline code
    ['helm/kratos-gateway/examples/values-fleet.yaml', /^#/],
  ];
  for (const [file, prefix] of sources) {
    const text = readFileSync(join(repoRoot, file), 'utf8');
    assert.equal(text.match(/ACL SETUSER/g)?.length, 1, `${file} shows one ACL line`);
    assert.equal(aclCommandIn(text, prefix).replace(/`$/, ''), aclSetUser(), file);
  }
  const line = aclSetUser();
  for (const c of commandsSent().filter((c) => c !== 'AUTH')) assert.ok(line.split(' ').includes('+' + c.toLowerCase()), c);
});
