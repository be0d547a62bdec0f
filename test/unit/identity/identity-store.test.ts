import assert from 'node:assert/strict';
import { it } from 'node:test';
import { HttpError } from '../../../src/identity/x/http-error.js';
import { openDatabase } from '../../../src/identity/persistence/db.js';
import { IdentityStore } from '../../../src/identity/persistence/identity-store.js';
import { SessionRepository } from '../../../src/identity/persistence/session-repository.js';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const derived = (emails: string[]) => ({ identifiers: emails, verifiable: emails, recovery: emails });

it('keeps address order, keeps verification of unchanged addresses, and rejects taken identifiers with 409', () => {
  const db = openDatabase('memory');
  const store = new IdentityStore(db);
  const sessions = new SessionRepository(db);
  const a = store.create(
    { schemaId: 'default', traits: {}, derived: derived(['b@x.test', 'a@x.test', 'c@x.test']), passwordHash: '$argon2id$x' },
    t0,
  );
  assert.deepEqual(
    a.verifiable_addresses.map((v) => v.value),
    ['b@x.test', 'a@x.test', 'c@x.test'],
  );
  assert.deepEqual(
    a.recovery_addresses.map((v) => v.value),
    ['b@x.test', 'a@x.test', 'c@x.test'],
  );
  assert.equal(a.verifiable_addresses[0]?.status, 'pending');
  assert.equal(a.verifiable_addresses[0]?.verified_at, null);

  const bId = a.verifiable_addresses[0]?.id ?? '';
  store.markAddressVerified(bId, new Date('2026-01-02T00:00:00.000Z'));
  const updated = store.update(
    a.id,
    { schemaId: 'default', traits: { v: 2 }, derived: derived(['b@x.test', 'd@x.test']) },
    new Date('2026-01-03T00:00:00.000Z'),
  );
  assert.deepEqual(
    updated.verifiable_addresses.map((v) => [v.value, v.verified, v.status]),
    [
      ['b@x.test', true, 'completed'],
      ['d@x.test', false, 'pending'],
    ],
  );
  assert.equal(updated.verifiable_addresses[0]?.id, bId);
  assert.equal(updated.verifiable_addresses[0]?.verified_at, '2026-01-02T00:00:00.000Z');
  assert.deepEqual(updated.traits, { v: 2 });
  assert.equal(store.findPasswordCredential('a@x.test'), undefined, 'identifiers follow the traits');
  assert.equal(store.findPasswordCredential('d@x.test')?.identityId, a.id);

  const dup = () => store.create({ schemaId: 'default', traits: {}, derived: derived(['d@x.test']), passwordHash: '$argon2id$y' }, t0);
  assert.throws(dup, (e: unknown) => e instanceof HttpError && e.code === 409);
  assert.equal(store.list(0, 100).length, 1, 'the failed create left nothing behind');

  const { token } = sessions.create(updated, t0, 3600_000, t0);
  assert.deepEqual(sessions.findByToken(token)?.identity, updated);
  assert.equal(store.delete(a.id), true);
  assert.equal(sessions.findByToken(token), undefined, 'sessions go with their identity');
  assert.equal(store.delete(a.id), false);
  db.close();
});
