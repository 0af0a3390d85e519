import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_INPUT_BYTES, parseInput, readInput } from '../../src/dovecot/checkpassword/input.js';
import { tempDir } from '../helpers/tmp.js';

/** fd 3 as Dovecot fills it: `user\0password\0timestamp\0`. */
const dovecotInput = (user: string, password: string) => Buffer.from(`${user}\x00${password}\x001712345678\x00`, 'utf8');

describe('checkpassword fd-3 input: splitting it', () => {
  it('takes the user and the password, and ignores what follows (timestamp, extra fields)', () => {
    expect(parseInput(dovecotInput('alice@example.org', 'Correct-Horse-1'))).toEqual({ kind: 'ok', user: 'alice@example.org', password: 'Correct-Horse-1' });
    expect(parseInput(Buffer.from('bob\0pw\0'))).toEqual({ kind: 'ok', user: 'bob', password: 'pw' });
  });

  it('keeps UTF-8 and spaces in the password as sent', () => {
    expect(parseInput(dovecotInput('carol@example.org', ' café 日本 🔑 '))).toEqual({ kind: 'ok', user: 'carol@example.org', password: ' café 日本 🔑 ' });
  });

  it('an empty password is a password (the daemon refuses it), an empty user is not input', () => {
    expect(parseInput(Buffer.from('dave\0\0'))).toEqual({ kind: 'ok', user: 'dave', password: '' });
    expect(parseInput(Buffer.from('\0pw\0'))).toEqual({ kind: 'truncated' });
  });

  it('input without both NULs is truncated', () => {
    for (const text of ['', 'alice', 'alice\0', 'alice\0password-without-end']) {
      expect(parseInput(Buffer.from(text)), JSON.stringify(text)).toEqual({ kind: 'truncated' });
    }
  });

  it('wipes the buffer it was given, whatever the outcome', () => {
    for (const input of [dovecotInput('alice', 'Secret-1'), Buffer.from('alice\0Secret-2')]) {
      parseInput(input);
      expect(input.every((b) => b === 0)).toBe(true);
    }
  });
});

describe('checkpassword fd-3 input: reading it', () => {
  const tmp = tempDir('checkpassword-input');
  afterAll(() => tmp.remove());
  let n = 0;

  function fileFd(content: Buffer): number {
    const file = join(tmp.dir, `input-${n++}`);
    writeFileSync(file, content);
    return openSync(file, 'r');
  }

  /** A named pipe, as Dovecot hands fd 3 over: the read end for readInput, the write end for the test. */
  function pipe(): { readFd: number; writeFd: number } {
    const path = join(tmp.dir, `fifo-${n++}`);
    const made = spawnSync('mkfifo', [path]);
    if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr}`);
    const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    return { readFd, writeFd: openSync(path, 'w') };
  }

  it('a file: reads to the end and splits it', async () => {
    const fd = fileFd(dovecotInput('alice@example.org', 'from-a-file'));
    expect(await readInput(fd, 5_000)).toEqual({ kind: 'ok', user: 'alice@example.org', password: 'from-a-file' });
    closeSync(fd);
  });

  it('a file: empty is truncated, one byte over the limit is oversize', async () => {
    const empty = fileFd(Buffer.alloc(0));
    expect(await readInput(empty, 5_000)).toEqual({ kind: 'truncated' });
    closeSync(empty);
    const big = fileFd(Buffer.concat([Buffer.from('alice\0'), Buffer.alloc(MAX_INPUT_BYTES - 6, 'x'), Buffer.from('\0')]));
    expect(await readInput(big, 5_000)).toEqual({ kind: 'oversize' });
    closeSync(big);
  });

  it('a file: exactly at the limit is still read', async () => {
    const input = Buffer.concat([Buffer.from('alice\0'), Buffer.alloc(MAX_INPUT_BYTES - 7, 'y'), Buffer.from('\0')]);
    expect(input.length).toBe(MAX_INPUT_BYTES);
    const fd = fileFd(input);
    const r = await readInput(fd, 5_000);
    expect(r.kind).toBe('ok');
    closeSync(fd);
  });

  it('a pipe: input written in pieces is read to EOF and split', async () => {
    const { readFd, writeFd } = pipe();
    const reading = readInput(readFd, 5_000);
    writeSync(writeFd, 'alice@exam');
    writeSync(writeFd, 'ple.org\0Correct-');
    writeSync(writeFd, 'Horse-1\x001712345678\x00');
    closeSync(writeFd);
    expect(await reading).toEqual({ kind: 'ok', user: 'alice@example.org', password: 'Correct-Horse-1' });
  });

  it('a pipe: more than the limit is refused without waiting for the end', async () => {
    const { readFd, writeFd } = pipe();
    const reading = readInput(readFd, 5_000);
    writeSync(writeFd, Buffer.alloc(MAX_INPUT_BYTES + 1, 'z'));
    expect(await reading).toEqual({ kind: 'oversize' });
    closeSync(writeFd);
  });

  it('a pipe that never delivers ends in a timeout, not a hang', async () => {
    const { readFd, writeFd } = pipe();
    writeSync(writeFd, 'alice\0'); // part of it, then nothing
    expect(await readInput(readFd, 200)).toEqual({ kind: 'timeout' });
    closeSync(writeFd);
  });

  it('no fd 3 at all is an error naming the fd, not a crash', async () => {
    const fd = fileFd(Buffer.from('x'));
    closeSync(fd);
    expect(await readInput(fd, 5_000)).toEqual({ kind: 'error', message: `fd ${fd}: EBADF` });
  });
});
