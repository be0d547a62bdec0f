import { hash } from 'node:crypto';
import type { Credential } from '../pipeline/credentials/index.js';

/**
 * Credential → cache key: SHA-256 of (credential kind, value, Kratos URL), so raw tokens are
 * never kept, and two Kratos deployments can never share an entry (Oathkeeper
 * GHSA-4mq7-pvjg-xp2r). The tokenize_as template is part of it too: an entry kept without
 * Kratos's JWT (or with another template's) is never found by a tokenizing gateway.
 *
 * A key of one of `kratos_instances` starts with its name and INSTANCE_MARK (the hash's
 * base64url alphabet has no such character): a token of tenant A presented on tenant B's host
 * is looked up under B's key, never found under A's, and the store reads the instance off the
 * key to keep identities apart (identityScope).
 */
export function cacheKeyer(kratosPublicUrl: string, tokenizeAs: string | undefined, instance?: string): (credential: Credential) => string {
  const salt = '\0' + kratosPublicUrl + (tokenizeAs === undefined ? '' : '\0tokenize_as=' + tokenizeAs);
  // One-shot crypto.hash: a third of createHash()'s cost on the hot path.
  if (instance === undefined) return (credential) => hash('sha256', credential.source.kind + '\0' + credential.value + salt, 'base64url');
  const prefix = instance + INSTANCE_MARK;
  const scoped = salt + '\0kratos=' + instance;
  return (credential) => prefix + hash('sha256', credential.source.kind + '\0' + credential.value + scoped, 'base64url');
}

const INSTANCE_MARK = ':';

/**
 * An identity as the session store indexes and purges it: identity ids are per Kratos, so one
 * of an instance's is qualified by the instance's name (NUL never occurs in a header-safe id,
 * so no id of one Kratos can be read as another's); the top-level Kratos's ids stay as they are.
 */
export function scopedIdentityId(instance: string | undefined, identityId: string): string {
  return instance === undefined ? identityId : instance + '\0' + identityId;
}

/** The scoped identity of a session kept under `key` (see cacheKeyer). */
export function identityScope(key: string, identityId: string): string {
  const mark = key.indexOf(INSTANCE_MARK);
  return mark === -1 ? identityId : scopedIdentityId(key.slice(0, mark), identityId);
}
