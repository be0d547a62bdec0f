/** Reading a small file (a key, a certificate, a password) from disk, bounded whatever the path names. */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Why a bounded read failed: the message is safe to print (an error code or the limit, never content). */
export class BoundedReadError extends Error {}

/**
 * The file's bytes, read no further than `maxBytes` + 1 whatever it is (a large file, a
 * device such as /dev/zero): a BoundedReadError when it cannot be read or is larger.
 *
 * Never waits: this runs synchronously at start and on a reload, where a wait blocks the
 * process. Opening a named pipe blocks until a writer comes, and reading a pipe or a terminal
 * blocks until it writes, so the file is opened and read non-blocking; a named pipe is refused
 * (what it holds is gone once read, so it could not be read again on a reload anyway).
 */
export function readBoundedFile(file: string, maxBytes: number, tooLarge: string): Buffer {
  const buf = Buffer.alloc(maxBytes + 1);
  let length = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    if (fstatSync(fd).isFIFO()) throw new BoundedReadError('a named pipe, not a file');
    while (length < buf.length) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
    }
  } catch (err) {
    if (err instanceof BoundedReadError) throw err;
    throw new BoundedReadError(`cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (length > maxBytes) throw new BoundedReadError(tooLarge);
  return buf.subarray(0, length);
}
