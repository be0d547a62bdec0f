/** Reading an identity assertion key file from disk, bounded. */
import { closeSync, openSync, readSync } from 'node:fs';
import { KeyFileError } from './key-file.js';

/** A key file holds a few keys (an RSA-4096 private key is about 3.3 kB): more is a wrong path. */
export const MAX_KEY_FILE_BYTES = 1024 * 1024;

/**
 * The file's text, read no further than MAX_KEY_FILE_BYTES + 1 bytes whatever it is (a large
 * file, a device): a KeyFileError, its message safe to print, when it cannot be read or is larger.
 */
export function readKeyFileAt(file: string): string {
  const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
  let length = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    while (length < buf.length) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
    }
  } catch (err) {
    throw new KeyFileError(`cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (length > MAX_KEY_FILE_BYTES) throw new KeyFileError('larger than 1 MiB: not a key file');
  return buf.toString('utf8', 0, length);
}
