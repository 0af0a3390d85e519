import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpDoveadm, localDoveadm } from '../../src/dovecot/doveadm.js';
import type { RunBinary } from '../../src/dovecot/run-binary.js';

/**
 * What reaches doveadm for names it could misread. What doveadm does with
 * them (a leading "-" is an option, "*"/"?" a mask) is shown against real
 * Dovecot 2.3 and 2.4 in test/e2e/names-dovecot*.test.ts; this pins the
 * exact argv and requests, which those tests cannot see.
 */
describe('local doveadm', () => {
  function recording() {
    const calls: string[][] = [];
    const run: RunBinary = async (_bin, args) => {
      calls.push(args);
      return { code: 0, stdout: '', stderr: '' };
    };
    return { doveadm: localDoveadm('doveadm', '/etc/dovecot/dovecot.conf', 1000, run), calls };
  }

  it('ends the options with -- before the name, for flush and kick', async () => {
    const { doveadm, calls } = recording();
    expect(await doveadm.apply('-a@example.org', true)).toEqual({ errors: [] });
    expect(calls).toEqual([
      ['-c', '/etc/dovecot/dovecot.conf', 'auth', 'cache', 'flush', '--', '-a@example.org'],
      ['-c', '/etc/dovecot/dovecot.conf', 'kick', '--', '-a@example.org'],
    ]);
  });

  it.each(['a*@example.org', 'a?c@example.org'])('flushes %s but never runs a kick whose mask would match others', async (user) => {
    const { doveadm, calls } = recording();
    const { errors } = await doveadm.apply(user, true);
    expect(calls).toEqual([['-c', '/etc/dovecot/dovecot.conf', 'auth', 'cache', 'flush', '--', user]]);
    expect(errors).toEqual([expect.stringMatching(/^doveadm kick: not run, .* contains a doveadm wildcard \(\* or \?\) and would end other users' sessions/)]);
  });
});

describe('doveadm HTTP API', () => {
  let server: Server | null = null;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it('sends only the flush for a name with a wildcard, and reports the kick as not done', async () => {
    const seen: unknown[] = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push(JSON.parse(body));
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify([['doveadmResponse', [{ entries: '0' }], 'c1']]));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const doveadm = httpDoveadm(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'key', 2000);
    const { errors } = await doveadm.apply('w*@example.org', true);
    expect(seen).toEqual([[['authCacheFlush', { user: ['w*@example.org'] }, 'c1']]]);
    expect(errors).toEqual([expect.stringMatching(/^doveadm kick: not run, "w\*@example.org" contains a doveadm wildcard/)]);
  });
});
