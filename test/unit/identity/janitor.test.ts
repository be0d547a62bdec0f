import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { createLogger } from '../../../src/log.js';
import { SettableClock } from '../../../src/identity/x/clock.js';
import { openDatabase } from '../../../src/identity/persistence/db.js';
import { FlowStore } from '../../../src/identity/persistence/flow-store.js';
import { IdentityStore } from '../../../src/identity/persistence/identity-store.js';
import { Janitor } from '../../../src/identity/persistence/janitor.js';
import { SessionRepository } from '../../../src/identity/persistence/session-repository.js';

it('removes flows and sessions a day after they expire, not before', () => {
  const db = openDatabase('memory');
  const clock = new SettableClock(new Date('2026-01-01T00:00:00Z'));
  const logger = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
  const flows = new FlowStore(db);
  const identities = new IdentityStore(db);
  const sessions = new SessionRepository(db);
  const identity = identities.create(
    { schemaId: 'default', traits: { email: 'j@example.com' }, derived: { identifiers: ['j@example.com'], verifiable: [], recovery: [] } },
    clock.now(),
  );
  const { token } = sessions.create(identity, clock.now(), 3600_000, clock.now());
  const id = '5f9e6c5c-1b2e-4b4e-9a4e-2a3c4d5e6f70';
  flows.save({ id, kind: 'login', expires_at: new Date(clock.now().getTime() + 3600_000).toISOString() });
  const janitor = new Janitor(db, clock, logger);

  clock.advance(2 * 3600_000);
  assert.equal(janitor.run(), 0, 'expired an hour ago: kept so fetches still answer 410');
  assert.ok(flows.get(id, 'login'));
  clock.advance(24 * 3600_000);
  assert.equal(janitor.run(), 2);
  assert.equal(flows.get(id, 'login'), undefined);
  assert.equal(sessions.findByToken(token), undefined);
  assert.ok(identities.get(identity.id), 'identities are never swept');
  db.close();
});
