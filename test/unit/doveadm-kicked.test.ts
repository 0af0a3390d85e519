import { describe, expect, it } from 'vitest';
import { localDoveadm } from '../../src/dovecot/doveadm.js';
import type { RunBinary } from '../../src/dovecot/run-binary.js';

/**
 * How many sessions a local `doveadm kick` ended, read from its output: 2.4.1
 * prints "N connections kicked" (reference/dovecot.md); 2.3 names the users it
 * kicked, without a count, and exits 68 when nobody was logged in.
 */
describe('local doveadm kick: sessions kicked', () => {
  const answering = (kick: { code: number; stdout: string }) => {
    const run: RunBinary = async (_bin, args) => (args.includes('kick') ? { ...kick, stderr: '' } : { code: 0, stdout: '1 cache entries flushed\n', stderr: '' });
    return localDoveadm('doveadm', null, 1000, run);
  };

  it.each([
    ['2.4, one session', { code: 0, stdout: '1 connections kicked\n' }, 1],
    ['2.4, nobody', { code: 0, stdout: '0 connections kicked\n' }, 0],
    ['2.3, nobody (exit 68)', { code: 68, stdout: '' }, 0],
    ['2.3, the users named', { code: 0, stdout: 'kicked connections from the following users:\na@example.org \n' }, undefined],
  ])('%s', async (_name, kick, kicked) => {
    const result = await answering(kick).apply('a@example.org', true);
    expect(result).toEqual(kicked === undefined ? { errors: [] } : { errors: [], kicked });
  });

  it('without a kick there is no count', async () => {
    expect(await answering({ code: 0, stdout: '1 connections kicked\n' }).apply('a@example.org', false)).toEqual({ errors: [] });
  });
});
