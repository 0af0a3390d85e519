import { afterEach, describe, expect, it } from 'vitest';
import { startSpawner, type Spawner } from '../../src/dovecot/spawner.js';

/** The daemon's doveadm runs go through a spawner child process; real processes throughout. */
describe('doveadm spawner', () => {
  let spawner: Spawner | null = null;
  afterEach(async () => {
    await spawner?.stop();
    spawner = null;
  });

  it('runs a binary in its own process and returns exit status, stdout and stderr', async () => {
    spawner = startSpawner();
    expect(spawner.pid()).toBeGreaterThan(0);
    expect(spawner.pid()).not.toBe(process.pid);
    const r = await spawner.run('/bin/sh', ['-c', 'echo "out $PPID"; echo err >&2; exit 3'], 5000);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe(`out ${spawner.pid()}\n`); // the parent of the command is the spawner, not this process
    expect(r.stderr).toBe('err\n');
  });

  it("hands doveadm none of the daemon's secrets: only PATH and the locale cross over", async () => {
    process.env.MAILPASSD_DATABASE_URL = 'postgres://u:secret-in-env@127.0.0.1/db';
    try {
      spawner = startSpawner();
      const r = await spawner.run('/usr/bin/env', [], 5000);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain('secret-in-env');
      expect(r.stdout).toMatch(/^PATH=/m);
      const names = r.stdout.split('\n').filter(Boolean).map((l) => l.slice(0, l.indexOf('=')));
      expect(names.every((n) => ['PATH', 'LANG', 'LC_ALL', 'TZ'].includes(n)), names.join(' ')).toBe(true);
    } finally {
      delete process.env.MAILPASSD_DATABASE_URL;
    }
  });

  it('a missing binary and a binary past its time limit come back as failures, not exceptions', async () => {
    spawner = startSpawner();
    const missing = await spawner.run('/nonexistent/doveadm', [], 5000);
    expect(missing).toMatchObject({ code: -1 });
    expect(missing.stderr).toContain('/nonexistent/doveadm not found');
    const slow = await spawner.run('/bin/sleep', ['5'], 200);
    expect(slow.code).toBe(-1);
    expect(slow.stderr).toContain('timed out after 200 ms');
  });

  it('a spawner that dies fails what it had in hand and is replaced on the next run', async () => {
    spawner = startSpawner();
    const first = spawner.pid()!;
    const inHand = spawner.run('/bin/sleep', ['3'], 10_000);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(first, 'SIGKILL');
    const failed = await inHand;
    expect(failed.code).toBe(-1);
    expect(failed.stderr).toContain('doveadm spawner exited (SIGKILL)');
    const again = await spawner.run('/bin/echo', ['back'], 5000);
    expect(again).toEqual({ code: 0, stdout: 'back\n', stderr: '' });
    expect(spawner.pid()).not.toBe(first);
  });

  it('after stop, runs are refused and the spawner process is gone', async () => {
    spawner = startSpawner();
    const pid = spawner.pid()!;
    await spawner.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await spawner.run('/bin/echo', ['x'], 1000)).stderr).toBe('daemon stopping');
  });
});
