import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpDoveadm, withApiPath } from '../../src/dovecot/doveadm.js';

describe('doveadm HTTP API URL', () => {
  it('adds the API path to a bare host:port and keeps an explicit one', () => {
    expect(withApiPath('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080/doveadm/v1');
    expect(withApiPath('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080/doveadm/v1');
    expect(withApiPath('https://[::1]:8443/doveadm/v1')).toBe('https://[::1]:8443/doveadm/v1');
    expect(withApiPath('http://mail1.example:8080/custom/path')).toBe('http://mail1.example:8080/custom/path');
  });
});

/**
 * How the answers of one batched request are read. The real Dovecot behaviour
 * (2.3 applies both, 2.4.1 dies on the flush, a server that is down) is covered by
 * the e2e tests; a loopback server here gives the answers Dovecot cannot be made
 * to give on demand (a reply that stops part-way, an unknown tag).
 */
describe('doveadm HTTP API: flush and kick in one ordered request', () => {
  let server: Server | null = null;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function answering(reply: (commands: unknown) => unknown) {
    const seen: unknown[] = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const commands = JSON.parse(body) as unknown;
        seen.push({ commands, authorization: req.headers.authorization });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(reply(commands)));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    return { doveadm: httpDoveadm(`http://127.0.0.1:${port}`, 'key-1', 2000), seen };
  }

  it('sends the flush before the kick, tagged, with the API key; "nobody to kick" (exit 68) is applied', async () => {
    const { doveadm, seen } = await answering(() => [
      ['doveadmResponse', [{ entries: '1' }], 'c1'],
      ['error', { type: 'exitCode', exitCode: 68 }, 'c2'],
    ]);
    expect(await doveadm.apply('a@example.org', true)).toEqual({ errors: [], kicked: 0 });
    expect(seen).toEqual([
      {
        commands: [
          ['authCacheFlush', { user: ['a@example.org'] }, 'c1'],
          ['kick', { mask: 'a@example.org' }, 'c2'],
        ],
        authorization: `X-Dovecot-API ${Buffer.from('key-1').toString('base64')}`,
      },
    ]);
  });

  it('without kick only the flush is sent', async () => {
    const { doveadm, seen } = await answering(() => [['doveadmResponse', [{ entries: '0' }], 'c1']]);
    expect(await doveadm.apply('a@example.org', false)).toEqual({ errors: [] });
    expect((seen[0] as { commands: unknown[] }).commands).toHaveLength(1);
  });

  it('a command left without its tagged answer is reported, never taken as done', async () => {
    const { doveadm } = await answering(() => [['doveadmResponse', [{ entries: '1' }], 'c1']]);
    expect(await doveadm.apply('a@example.org', true)).toEqual({ errors: ['doveadm HTTP kick: no answer (the server answered the commands before it)'] });
  });

  it('each failed command is named with its own error', async () => {
    const { doveadm } = await answering(() => [
      ['error', { type: 'exitCode', exitCode: 75 }, 'c1'],
      ['error', { type: 'exitCode', exitCode: 77 }, 'c2'],
    ]);
    expect(await doveadm.apply('a@example.org', true)).toEqual({
      errors: ['doveadm HTTP authCacheFlush: {"type":"exitCode","exitCode":75}', 'doveadm HTTP kick: {"type":"exitCode","exitCode":77}'],
    });
  });

  it.each([
    ['2.4: a count', [{ count: '2' }], 2],
    ['2.4: nobody', [{ count: '0' }], 0],
    ['2.3: the user named, no count', [{ result: 'a@example.org' }], undefined],
  ])('the kick\'s answer gives the sessions kicked when Dovecot counts them (%s)', async (_name, body, kicked) => {
    const { doveadm } = await answering(() => [
      ['doveadmResponse', [{ entries: '1' }], 'c1'],
      ['doveadmResponse', body, 'c2'],
    ]);
    expect(await doveadm.apply('a@example.org', true)).toEqual(kicked === undefined ? { errors: [] } : { errors: [], kicked });
  });

  it('a non-JSON or non-list answer fails both commands', async () => {
    const { doveadm } = await answering(() => ({ not: 'a list' }));
    expect(await doveadm.apply('a@example.org', true)).toEqual({ errors: ['doveadm HTTP authCacheFlush: unexpected answer', 'doveadm HTTP kick: unexpected answer'] });
  });
});
