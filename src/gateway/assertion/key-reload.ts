/**
 * A reload never replaces the identity assertion's keys (tokens already handed out, and every
 * worker, use the ones read at start), but it reads the key file to say what a restart would
 * do: an operator who rotated the file and sent SIGHUP learns the new keys need a restart, or
 * that the file is broken, while the running keys stay.
 */
import { ConfigError } from '../../config/errors.js';
import { loadAssertionKeys, preparedAssertionKeys, type AssertionConfig } from './keys.js';

export interface KeyFileOnReload {
  /** The file's keys differ from the running ones (a restart would publish and sign with them). */
  changed: boolean;
  /** Config error lines (`identity_assertion.key_file: …`) for a file a restart would refuse. */
  problems: string[];
}

export function keyFileOnReload(running: AssertionConfig, next: AssertionConfig, baseDir: string): KeyFileOnReload {
  if (!next.enabled || next.tokenize_as !== undefined || next.key_file === undefined) return { changed: false, problems: [] };
  let keys;
  try {
    keys = loadAssertionKeys(next, baseDir);
  } catch (err) {
    if (err instanceof ConfigError) return { changed: true, problems: err.problems };
    throw err;
  }
  return { changed: keys.jwksBody !== preparedAssertionKeys(running)?.jwksBody, problems: [] };
}
