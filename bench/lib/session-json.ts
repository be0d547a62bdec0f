/** The fake whoami's answer (bench/servers/whoami.ts), also parsed by the cache memory measurement. */
import { createHash } from 'node:crypto';

export function uuidFrom(s: string): string {
  const h = createHash('sha1').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const far = new Date(Date.now() + 7 * 86_400_000).toISOString();

/** A Kratos v1 Session JSON of realistic size for `token` (ids derived from it). */
export function sessionJson(token: string): string {
  const identityId = uuidFrom('identity:' + token);
  const now = new Date().toISOString();
  const email = `user-${identityId.slice(0, 8)}@example.com`;
  return JSON.stringify({
    id: uuidFrom('session:' + token),
    active: true,
    expires_at: far,
    authenticated_at: now,
    authenticator_assurance_level: 'aal1',
    authentication_methods: [{ method: 'password', aal: 'aal1', completed_at: now }],
    issued_at: now,
    identity: {
      id: identityId,
      schema_id: 'default',
      schema_url: 'http://127.0.0.1/schemas/ZGVmYXVsdA',
      state: 'active',
      state_changed_at: now,
      traits: { email, name: { first: 'Bench', last: `User ${identityId.slice(0, 8)}` } },
      verifiable_addresses: [
        {
          id: uuidFrom('va:' + token),
          value: email,
          verified: true,
          via: 'email',
          status: 'completed',
          verified_at: now,
          created_at: now,
          updated_at: now,
        },
      ],
      recovery_addresses: [{ id: uuidFrom('ra:' + token), value: email, via: 'email', created_at: now, updated_at: now }],
      metadata_public: null,
      created_at: now,
      updated_at: now,
    },
    devices: [{ id: uuidFrom('dev:' + token), ip_address: '127.0.0.1', user_agent: 'bench', location: '' }],
  });
}
