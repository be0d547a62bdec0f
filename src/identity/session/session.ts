/** Sessions as Kratos v0.6 models them (session/session.go): who, since when, until when, and their JSON shape. */
import { randomUUID } from 'node:crypto';
import { identityJson, type IdentityRecord } from '../identity/identity.js';

export interface SessionRecord {
  id: string;
  active: boolean;
  expires_at: string;
  authenticated_at: string;
  issued_at: string;
  identity: IdentityRecord;
}

/** A session object that is not (yet) persisted; v0.6 returns one after registration even without the session hook. */
export function buildSession(identity: IdentityRecord, authenticatedAt: Date, lifespanMs: number, now: Date): SessionRecord {
  return {
    id: randomUUID(),
    active: true,
    expires_at: new Date(authenticatedAt.getTime() + lifespanMs).toISOString(),
    authenticated_at: authenticatedAt.toISOString(),
    issued_at: now.toISOString(),
    identity,
  };
}

export function isSessionValid(s: SessionRecord, now: Date): boolean {
  return s.active && Date.parse(s.expires_at) > now.getTime();
}

export function sessionJson(ctx: { publicBase: string }, s: SessionRecord) {
  return {
    id: s.id,
    active: s.active,
    expires_at: s.expires_at,
    authenticated_at: s.authenticated_at,
    issued_at: s.issued_at,
    identity: identityJson(ctx, s.identity),
  };
}
