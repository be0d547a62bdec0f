/** Reading an identity assertion key file from disk, bounded. */
import { BoundedReadError, readBoundedFile } from '../../http/bounded-file.js';
import { KeyFileError } from './key-file.js';

/** A key file holds a few keys (an RSA-4096 private key is about 3.3 kB): more is a wrong path. */
export const MAX_KEY_FILE_BYTES = 1024 * 1024;

/**
 * The file's text, read no further than MAX_KEY_FILE_BYTES + 1 bytes whatever it is (a large
 * file, a device): a KeyFileError, its message safe to print, when it cannot be read or is larger.
 */
export function readKeyFileAt(file: string): string {
  try {
    return readBoundedFile(file, MAX_KEY_FILE_BYTES, 'larger than 1 MiB: not a key file').toString('utf8');
  } catch (err) {
    if (err instanceof BoundedReadError) throw new KeyFileError(err.message);
    throw err;
  }
}
