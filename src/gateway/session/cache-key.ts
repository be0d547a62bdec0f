import { hash } from 'node:crypto';
import type { Credential } from '../pipeline/credentials/index.js';

/**
 * Credential → cache key: SHA-256 of (credential kind, value, Kratos URL), so raw tokens are
 * never kept, and two Kratos deployments can never share an entry (Oathkeeper
 * GHSA-4mq7-pvjg-xp2r). The tokenize_as template is part of it too: an entry kept without
 * Kratos's JWT (or with another template's) is never found by a tokenizing gateway.
 */
export function cacheKeyer(kratosPublicUrl: string, tokenizeAs: string | undefined): (credential: Credential) => string {
  const salt = '\0' + kratosPublicUrl + (tokenizeAs === undefined ? '' : '\0tokenize_as=' + tokenizeAs);
  // One-shot crypto.hash: a third of createHash()'s cost on the hot path.
  return (credential) => hash('sha256', credential.source.kind + '\0' + credential.value + salt, 'base64url');
}
