import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOwnCluster, createTestDatabase, type OwnCluster } from '../helpers/postgres.js';
import { startTestDaemon, seedMailbox, verify, type TestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { createPool, withTransaction } from '../../src/store/pool.js';
import { stopPolicyWorker, checkRulesOffThread } from '../../src/policy/off-thread.js';
import { DEFAULT_POLICY } from '../../src/policy/settings.js';
import { legacyWorkers, verifyLegacyOffThread } from '../../src/auth/legacy-off-thread.js';

/** DESIGN §3 rule 2 under real faults: the database dies, the daemon is stopped or crashes. */
const PW = 'Correct-Horse-Battery-9';

describe('PostgreSQL killed during a login load', () => {
  let cluster: OwnCluster;
  let d: TestDaemon;
  beforeAll(async () => {
    cluster = await startOwnCluster();
    d = await startTestDaemon({ databaseUrl: cluster.url, env: { MAILPASSD_DATABASE_POOL_WAIT_MS: '500' } });
    await seedMailbox(d, 'alice@example.org', PW);
  });
  afterAll(async () => {
    await d?.stop();
    await cluster?.destroy();
  });

  it('answers only ok, a true mismatch, or internal_failure; never a false mismatch; recovers within 5 s without a restart', async () => {
    const seen = new Map<string, number>();
    let falseMismatch = 0;
    let wrongAccepted = 0;
    let rightThrottled = 0;
    let running = true;
    const worker = async (i: number) => {
      while (running) {
        const right = i % 2 === 0;
        const r = await verify(d, 'alice@example.org', right ? PW : 'not-the-password-1', { remote_ip: `10.0.${i}.1` }).catch(() => ({ status: 0, body: null }));
        const key = `${r.status}:${r.body?.result ?? 'none'}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        if (right && r.body?.result === 'password_mismatch') falseMismatch++;
        if (!right && r.body?.result === 'ok') wrongAccepted++;
        if (right && r.status === 429) rightThrottled++;
      }
    };
    const workers = Array.from({ length: 8 }, (_, i) => worker(i));
    await new Promise((r) => setTimeout(r, 500));
    await cluster.stop();
    await new Promise((r) => setTimeout(r, 1500));
    await cluster.start();
    const back = Date.now();
    let recoveredAfter = -1;
    while (Date.now() - back < 10_000) {
      const r = await verify(d, 'alice@example.org', PW, { remote_ip: '10.9.9.9' });
      if (r.body?.result === 'ok') {
        recoveredAfter = Date.now() - back;
        break;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    running = false;
    await Promise.all(workers);
    expect(falseMismatch).toBe(0);
    expect(wrongAccepted).toBe(0);
    // The guessing workers run into their (user, ip) limit; the right password never does:
    // a failure of ours is refunded, not counted as a guess.
    expect(rightThrottled).toBe(0);
    expect([...seen.keys()].every((k) => ['200:ok', '200:password_mismatch', '429:throttled', '503:internal_failure'].includes(k)), JSON.stringify([...seen])).toBe(true);
    expect(seen.get('503:internal_failure') ?? 0).toBeGreaterThan(0);
    expect(recoveredAfter).toBeGreaterThanOrEqual(0);
    expect(recoveredAfter).toBeLessThan(5000);
  });
});

describe('daemon shutdown and crash', () => {
  let db: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('SIGTERM drains in-flight verifications and exits 0', async () => {
    // Expensive hashing keeps requests in flight when the signal arrives.
    const d = await startTestDaemon({
      databaseUrl: db.url,
      env: { MAILPASSD_HASH_MEMORY_COST: '32768', MAILPASSD_HASH_TIME_COST: '2', MAILPASSD_AUTH_MEMO_TTL_SECONDS: '0', MAILPASSD_AUTH_REQUEST_TIMEOUT_MS: '60000' },
    });
    await seedMailbox(d, 'drain@example.org', PW);
    const inflight = Array.from({ length: 8 }, (_, i) => verify(d, 'drain@example.org', PW, { remote_ip: `10.1.${i}.1` }));
    // Signal only once the daemon holds all eight (running or queued for argon2).
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const m = await (await fetch(`${d.adminUrl}/metrics`)).text();
      const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(m)?.[1] ?? 0);
      if (gauge('mailpassd_argon2_active') + gauge('mailpassd_argon2_queue_depth') >= 7) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    // A drain of eight 32 MiB argon2 runs took over 30 s under CI's parallel load: no SIGKILL before the test's own limit.
    const code = d.stop('SIGTERM', 100_000);
    const answers = await Promise.all(inflight);
    expect(answers.map((a) => a.body?.result)).toEqual(Array(8).fill('ok'));
    expect(await code).toBe(0);
  }, 120_000);

  it('a rotation committed while the node was down is applied when it comes back (crash between commit and fan-out)', async () => {
    const dir = tempDir('doveadm');
    const calls = path.join(dir.dir, 'calls.log');
    writeFileSync(calls, '');
    const fake = path.join(dir.dir, 'doveadm');
    // Records what mailpassd asks of Dovecot, as doveadm would answer it.
    writeFileSync(fake, `#!/bin/sh\necho "$*" >> ${calls}\n[ "$1" = kick ] && exit 68\necho "1 cache entries flushed"\n`);
    chmodSync(fake, 0o755);
    const env = { MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_BINARY: fake };
    const own = await createTestDatabase(); // no other node may be registered here
    const first = await startTestDaemon({ databaseUrl: own.url, nodeId: 'crashy', env });
    await seedMailbox(first, 'crash@example.org', PW);
    await first.stop('SIGKILL');
    // Waits until the dead node's heartbeat is stale (3 s here), then it is not waited for.
    const rotated = await first.cli(['rotate', 'crash@example.org', '--password-stdin', '--wait', '15', '--json'], 'Another-Strong-Secret-42');
    expect(rotated.code, rotated.stderr).toBe(0);
    const result = JSON.parse(rotated.stdout);
    expect(result.nodes).toEqual([expect.objectContaining({ node_id: 'crashy', applied: false, stale: true })]);
    expect(readFileSync(calls, 'utf8')).not.toContain('crash@example.org');
    const again = await startTestDaemon({ databaseUrl: own.url, nodeId: 'crashy', env });
    const deadline = Date.now() + 5000;
    while (!readFileSync(calls, 'utf8').includes('kick -- crash@example.org') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(calls, 'utf8')).toContain('auth cache flush -- crash@example.org');
    expect(readFileSync(calls, 'utf8')).toContain('kick -- crash@example.org');
    await again.stop();
    await own.drop();
    dir.remove();
  });

  it('a client that never finishes its headers is cut off', async () => {
    const d = await startTestDaemon({ databaseUrl: db.url, env: { MAILPASSD_HTTP_TIMEOUT_MS: '1000' } });
    const [host, port] = d.authListen.split(':');
    const closedAfter = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      const s = connect({ host: host!, port: Number(port) }, () => s.write('POST /v1/passdb/verify HTTP/1.1\r\nHost: x\r\n'));
      s.on('data', () => undefined);
      s.on('close', () => resolve(Date.now() - t0));
      setTimeout(() => {
        s.destroy();
        resolve(-1);
      }, 8000);
    });
    expect(closedAfter).toBeGreaterThan(0);
    expect(closedAfter).toBeLessThan(5000);
    await d.stop();
  });
});

/** A loopback TCP proxy to PostgreSQL whose open connections can be made to go silent (a network that drops packets). */
async function silenceableProxy(databaseUrl: string) {
  const target = new URL(databaseUrl);
  const pairs: Array<{ silent: boolean; sockets: Socket[] }> = [];
  const server = createServer((client) => {
    const upstream = connect({ host: target.hostname, port: Number(target.port) });
    const pair = { silent: false, sockets: [client, upstream] };
    pairs.push(pair);
    client.on('data', (d) => pair.silent || upstream.write(d));
    upstream.on('data', (d) => pair.silent || client.write(d));
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    silenceOpenConnections: () => pairs.forEach((p) => (p.silent = true)),
    close: async () => {
      pairs.forEach((p) => p.sockets.forEach((s) => s.destroy()));
      await new Promise((r) => server.close(r));
    },
  };
}

describe('withTransaction and a connection that goes silent mid-transaction', () => {
  it('destroys the connection instead of returning it to the pool: the next query gets a working one', async () => {
    const db = await createTestDatabase();
    const proxy = await silenceableProxy(db.url);
    // query_timeout = statement timeout + 1 s: the client gives up on a silent server after 1.3 s.
    const pool = createPool(proxy.url, { pool_size: 1, connect_timeout_ms: 2000, statement_timeout_ms: 300, pool_wait_ms: 5000 });
    try {
      const failed = withTransaction(pool, async (c) => {
        await c.query('SELECT 1');
        proxy.silenceOpenConnections();
        await c.query('SELECT 2');
      });
      await expect(failed).rejects.toThrow();
      // The silent connection stays silent: only a new one can answer.
      expect((await pool.query<{ n: number }>('SELECT 42 AS n')).rows[0]!.n).toBe(42);
    } finally {
      await pool.end();
      await proxy.close();
      await db.drop();
    }
  });
});

describe('worker threads that exit', () => {
  const subject = { address: 'alice@example.org', displayName: null };

  it('a policy worker that exits fails its callers with worker_exited, and the next check gets a fresh worker', async () => {
    await checkRulesOffThread('warm-Up-Password-1', subject, DEFAULT_POLICY);
    const pending = checkRulesOffThread('Another-Password-2', subject, DEFAULT_POLICY);
    await stopPolicyWorker();
    await expect(pending).rejects.toMatchObject({ code: 'worker_exited' });
    expect(await checkRulesOffThread('a', subject, { ...DEFAULT_POLICY, minScore: 0 })).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'too_short' })]));
  });

  it('a legacy-hash worker that exits fails its caller, and the next verify runs on a fresh thread', async () => {
    const pool = legacyWorkers()!;
    const hash = '{SSHA256}' + 'A'.repeat(60);
    await verifyLegacyOffThread(hash, 'x');
    const before = pool.threadIds;
    // Seconds of SHA-crypt (at the rounds cap), so the worker is surely busy when it is
    // terminated: a microsecond SSHA job could be answered before terminate() landed.
    const slow = '{SHA512-CRYPT}$6$rounds=500000$abcdefgh$' + 'A'.repeat(86);
    const pending = verifyLegacyOffThread(slow, 'y');
    await pool.terminate();
    await expect(pending).rejects.toMatchObject({ code: 'worker_exited' });
    expect(await verifyLegacyOffThread(hash, 'z')).toBe(false);
    expect(pool.threadIds.some((id) => before.includes(id))).toBe(false);
  });
});
