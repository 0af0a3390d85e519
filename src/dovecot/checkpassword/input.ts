/**
 * The checkpassword input: Dovecot writes `user\0password\0timestamp\0` to
 * fd 3 and closes its end.
 */
import { fstatSync, read } from 'node:fs';
import { Socket } from 'node:net';

/** Longest fd-3 input accepted. Dovecot itself sends at most 512 bytes. */
export const MAX_INPUT_BYTES = 4096;

export type InputResult =
  | { kind: 'ok'; user: string; password: string }
  | { kind: 'oversize' }
  | { kind: 'truncated' }
  | { kind: 'timeout' }
  | { kind: 'error'; message: string };

/** Splits `user\0password\0…`; wipes the buffer. */
export function parseInput(all: Buffer): InputResult {
  const first = all.indexOf(0);
  const second = first < 0 ? -1 : all.indexOf(0, first + 1);
  if (first <= 0 || second < 0) {
    all.fill(0);
    return { kind: 'truncated' };
  }
  const user = all.subarray(0, first).toString('utf8');
  const password = all.subarray(first + 1, second).toString('utf8');
  all.fill(0);
  return { kind: 'ok', user, password };
}

/**
 * Reads fd 3 to EOF without closing it (the reply program must inherit it),
 * bounded in size and time.
 *
 * Dovecot hands over a pipe. A pipe or socket is read through libuv's
 * event loop (net.Socket), never with fs.read: a blocking read() parked in
 * the thread pool cannot be cancelled, and Node's exit waits for the pool,
 * so after a timeout the process would never end. The socket is left open
 * (allowHalfOpen, never destroyed) so fd 3 is still there for the reply
 * program. Anything else (a manual `3< file`, `3</dev/null`) is read with
 * fs.read; a regular file cannot block.
 */
export function readInput(fd: number, timeoutMs: number): Promise<InputResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const wipe = (): void => {
      for (const c of chunks) c.fill(0);
    };
    const finish = (r: InputResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      wipe();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    // Returns false once the input is over the limit.
    const take = (chunk: Buffer): boolean => {
      total += chunk.length;
      if (total > MAX_INPUT_BYTES) {
        chunk.fill(0);
        finish({ kind: 'oversize' });
        return false;
      }
      chunks.push(chunk);
      return true;
    };
    const atEof = (): void => finish(parseInput(Buffer.concat(chunks, total)));

    let st;
    try {
      st = fstatSync(fd);
    } catch (e) {
      finish({ kind: 'error', message: `fd ${fd}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      return;
    }
    if (st.isFIFO() || st.isSocket()) {
      const sock = new Socket({ fd, readable: true, writable: false, allowHalfOpen: true });
      sock.on('data', (chunk: Buffer) => {
        if (settled) return;
        // Copy: the stream may hand out views of a pooled buffer.
        if (!take(Buffer.from(chunk))) sock.pause();
        chunk.fill(0);
      });
      sock.on('end', () => {
        if (!settled) atEof();
      });
      sock.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'error', message: `read fd ${fd}: ${e.code ?? e.message}` }));
      return;
    }
    const next = (): void => {
      const buf = Buffer.alloc(1024);
      read(fd, buf, 0, buf.length, null, (err, n) => {
        if (settled) return;
        if (err) return finish({ kind: 'error', message: `read fd ${fd}: ${err.code ?? err.message}` });
        if (n === 0) return atEof();
        if (take(buf.subarray(0, n))) next();
      });
    };
    next();
  });
}
