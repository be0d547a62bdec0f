/** Data survives a restart on a file database; the schema is migrated once. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import Database from 'better-sqlite3';
import { Browser, courierMessages, registerBrowser, startTestServer } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'identity-persist-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('keeps identities, sessions and courier messages across a restart', async () => {
  const file = join(dir, 'nested', 'kratos.sqlite');
  const first = await startTestServer({ dsn: `sqlite://${file}?_fk=true` });
  const b = new Browser();
  let cookie: string | undefined;
  try {
    await registerBrowser(first, b, 'persist@example.com', 'persist-passphrase-1');
    cookie = b.cookieHeader();
    assert.equal((await b.getJson(`${first.publicUrl}/sessions/whoami`)).status, 200);
  } finally {
    await first.close();
  }
  assert.ok(existsSync(file), 'parent directories are created');

  const second = await startTestServer({ dsn: `sqlite://${file}`, clock: first.clock });
  try {
    const who = await b.get(`${second.publicUrl}/sessions/whoami`, { cookie: cookie ?? '' });
    assert.equal(who.status, 200);
    assert.equal(who.json.identity.traits.email, 'persist@example.com');
    const msgs = await courierMessages(second.adminUrl);
    assert.ok(msgs.some((m) => m.recipient === 'persist@example.com'));
  } finally {
    await second.close();
  }

  const db = new Database(file, { readonly: true });
  try {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const versions = db.prepare('SELECT version FROM schema_migrations').all();
    assert.deepEqual(versions, [{ version: 1 }]);
    const stored = db.prepare('SELECT token_hash FROM sessions').all() as Array<{ token_hash: string }>;
    const token = (cookie ?? '').match(/ory_kratos_session=([^.;]+)/)?.[1] ?? '';
    assert.ok(token.length === 32);
    assert.ok(
      stored.every((r) => r.token_hash !== token && /^[0-9a-f]{64}$/.test(r.token_hash)),
      'tokens are stored hashed',
    );
  } finally {
    db.close();
  }
});
