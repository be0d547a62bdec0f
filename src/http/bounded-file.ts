/** Reading a small file (a key, a certificate, a password) from disk, bounded whatever the path names. */
import { closeSync, openSync, readSync } from 'node:fs';

/** Why a bounded read failed: the message is safe to print (an error code or the limit, never content). */
export class BoundedReadError extends Error {}

/**
 * The file's bytes, read no further than `maxBytes` + 1 whatever it is (a large file, a
 * device such as /dev/zero): a BoundedReadError when it cannot be read or is larger.
 */
export function readBoundedFile(file: string, maxBytes: number, tooLarge: string): Buffer {
  const buf = Buffer.alloc(maxBytes + 1);
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
    throw new BoundedReadError(`cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (length > maxBytes) throw new BoundedReadError(tooLarge);
  return buf.subarray(0, length);
}
