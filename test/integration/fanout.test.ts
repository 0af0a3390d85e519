import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase } from '../helpers/postgres.js';
import { adminToken, postJson, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor as until } from '../helpers/wait.js';
import { appendInvalidation } from '../../src/store/sql/invalidations.js';
import { waitForNodes } from '../../src/rotation/wait.js';

/**
 * The fan-out's guarantees (issue 10, points 1, 2, 5, 6, 7): no node passes
 * over a rotation whose transaction commits late; one row a node cannot apply
 * does not hold back the rest; one node_id, one daemon; a long wait gets its
 * answer; the log is pruned once every node has passed it. Each test has a
 * database and daemons of its own.
 */
const STALE_AFTER_MS = 3000; // what test/helpers/daemon.ts gives every daemon

interface Scope {
  url: string;
  pool: pg.Pool;
  dir: string;
  daemons: TestDaemon[];
}
const scopes: Scope[] = [];

async function scope(): Promise<Scope> {
  const db = await createTestDatabase();
  const dir = tempDir('fanout');
  const s: Scope = { url: db.url, pool: new pg.Pool({ connectionString: db.url, max: 6 }), dir: dir.dir, daemons: [] };
  cleanups.push(async () => {
    await Promise.all(s.daemons.map((d) => d.stop()));
    await s.pool.end();
    await db.drop();
    dir.remove();
  });
  scopes.push(s);
  return s;
}
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  scopes.splice(0);
});

async function daemon(s: Scope, nodeId: string, env: Record<string, string> = {}): Promise<TestDaemon> {
  const d = await startTestDaemon({ databaseUrl: s.url, nodeId, env });
  s.daemons.push(d);
  return d;
}

/**
 * A doveadm stand-in that appends its arguments to `calls` and, for a user
 * matching `failFor`, fails like `doveadm auth cache flush` does when
 * auth-master is unreachable (an error on stderr, exit status 0).
 */
function fakeDoveadm(s: Scope, name: string, failFor?: string): { env: Record<string, string>; calls: () => string[] } {
  const calls = path.join(s.dir, `${name}.calls`);
  const bin = path.join(s.dir, `${name}.doveadm`);
  const fail = failFor ? `*${failFor}*) echo "Error: auth-master: connect(/run/dovecot/auth-master) failed" >&2; exit 0;;\n` : '';
  writeFileSync(bin, `#!/bin/sh\necho "$*" >> ${calls}\ncase "$*" in\n${fail}*kick*) exit 68;;\nesac\nexit 0\n`);
  chmodSync(bin, 0o755);
  return {
    env: { MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_BINARY: bin },
    calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : []),
  };
}

/** The users this node flushed Dovecot's auth cache for, in order. */
const flushed = (calls: string[]) => calls.filter((c) => c.includes('auth cache flush')).map((c) => c.split(' ').at(-1)!);

async function cursorOf(s: Scope, nodeId: string): Promise<bigint> {
  const r = await s.pool.query<{ c: string }>('SELECT applied_invalidation_id::text AS c FROM nodes WHERE node_id = $1', [nodeId]);
  return BigInt(r.rows[0]!.c);
}

async function seed(d: TestDaemon, token: string, addresses: string[]): Promise<void> {
  const auth = { authorization: `Bearer ${token}` };
  for (const domain of new Set(addresses.map((a) => a.split('@')[1]!))) {
    const r = await postJson(`${d.adminUrl}/v1/domains`, { name: domain }, auth);
    expect(r.status, r.text).toBe(201);
  }
  for (const address of addresses) {
    const r = await postJson(`${d.adminUrl}/v1/mailboxes`, { address, password: 'Correct-Horse-Battery-9' }, auth);
    expect(r.status, r.text).toBe(201);
  }
}

const rotate = (d: TestDaemon, token: string, address: string, waitMs: number) =>
  postJson(`${d.adminUrl}/v1/mailboxes/${address}/rotate`, { generate: true, wait_ms: waitMs }, { authorization: `Bearer ${token}` });

describe('invalidations are applied in commit order (point 1)', () => {
  it('a transaction that took the lower id and commits last is never passed over, and never reported applied before it is', async () => {
    const s = await scope();
    const dove = fakeDoveadm(s, 'order');
    await daemon(s, 'order', dove.env);
    const a = await s.pool.connect();
    const b = await s.pool.connect();
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      const idA = await appendInvalidation(a, 'first@example.org', 'rotate', true);
      const bPid = (await b.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const bCommitted = appendInvalidation(b, 'second@example.org', 'rotate', true).then(async (id) => {
        await b.query('COMMIT');
        return id;
      });
      // B either commits at once with the higher id (and a node may see it while A is open),
      // or is held back until A has committed. Both are awaited conditions, not sleeps.
      const blocked = until('B to wait for a lock', 10_000, async () => {
        const r = await s.pool.query('SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted', [bPid]);
        return (r.rowCount ?? 0) > 0;
      }).catch(() => false);
      const first = await Promise.race([bCommitted.then(() => 'b-committed' as const), blocked.then(() => 'b-blocked' as const)]);
      if (first === 'b-committed') {
        const idB = await bCommitted;
        expect(BigInt(idB)).toBeGreaterThan(BigInt(idA));
        await until('the node to apply B', 10_000, async () => (await cursorOf(s, 'order')) >= BigInt(idB));
      }
      // A has not committed: no node can have applied it.
      const early = await waitForNodes(s.pool, idA, 0, STALE_AFTER_MS);
      expect(early.find((n) => n.node_id === 'order')).toMatchObject({ applied: false });

      await a.query('COMMIT');
      const idB = await bCommitted;
      expect(BigInt(idB)).toBeGreaterThan(BigInt(idA));
      const idC = await appendInvalidation(s.pool, 'third@example.org', 'rotate', true);
      await until('the node to apply C', 10_000, async () => (await cursorOf(s, 'order')) >= BigInt(idC));
      expect(flushed(dove.calls())).toEqual(['first@example.org', 'second@example.org', 'third@example.org']);
      expect((await waitForNodes(s.pool, idA, 0, STALE_AFTER_MS)).find((n) => n.node_id === 'order')).toMatchObject({ applied: true });
    } finally {
      await a.query('ROLLBACK').catch(() => undefined);
      await b.query('ROLLBACK').catch(() => undefined);
      a.release();
      b.release();
    }
  });

  it('many concurrent rotations of different mailboxes through three daemons: every node applies every one, once, in id order', async () => {
    const s = await scope();
    const nodes = ['load-1', 'load-2', 'load-3'];
    const doves = nodes.map((n) => fakeDoveadm(s, n));
    const d1 = await daemon(s, nodes[0]!, doves[0]!.env);
    const rest = await Promise.all(nodes.slice(1).map((n, i) => daemon(s, n, doves[i + 1]!.env)));
    const via = [d1, ...rest];
    const token = await adminToken(d1, 'load');
    const addresses = Array.from({ length: 30 }, (_, i) => `user${String(i).padStart(2, '0')}@load.example`);
    await seed(d1, token, addresses);
    const before = doves.map((d) => flushed(d.calls()).length);

    const results = await Promise.all(addresses.map((a, i) => rotate(via[i % via.length]!, token, a, 30_000)));
    for (const r of results) {
      expect(r.status, r.text).toBe(200);
      expect(r.body.complete, r.text).toBe(true);
      expect(r.body.nodes, r.text).toEqual(nodes.map((node_id) => ({ node_id, applied: true, stale: false })));
    }
    const inIdOrder = [...results].sort((x, y) => (BigInt(x.body.invalidation_id) < BigInt(y.body.invalidation_id) ? -1 : 1)).map((r) => r.body.address);
    for (const [i, dove] of doves.entries()) expect(flushed(dove.calls()).slice(before[i]), nodes[i]).toEqual(inIdOrder);
  }, 120_000);
});

describe('a row a node cannot apply (point 2)', () => {
  it('is retried within the budget, then recorded as not applied on that node, which moves on to the next rotations', async () => {
    const s = await scope();
    const dove = fakeDoveadm(s, 'picky', 'poison@');
    const healthy = await daemon(s, 'healthy');
    const picky = await daemon(s, 'picky', { ...dove.env, MAILPASSD_ROTATION_RETRY_ATTEMPTS: '3' });
    const token = await adminToken(healthy, 'budget');
    await seed(healthy, token, ['poison@example.org', 'fine@example.org']);

    const bad = await rotate(healthy, token, 'poison@example.org', 30_000);
    expect(bad.status, bad.text).toBe(200);
    expect(bad.body.complete).toBe(false);
    expect(bad.body.nodes).toEqual([
      { node_id: 'healthy', applied: true, stale: false },
      { node_id: 'picky', applied: false, stale: false, failed: true, error: expect.stringMatching(/auth-master/) },
    ]);
    expect(dove.calls().filter((c) => /auth cache flush .*poison@example\.org/.test(c))).toHaveLength(3);

    // The next rotation is not held back on the node that gave up.
    const good = await rotate(healthy, token, 'fine@example.org', 30_000);
    expect(good.status, good.text).toBe(200);
    expect(good.body.complete).toBe(true);
    expect(good.body.nodes).toEqual([
      { node_id: 'healthy', applied: true, stale: false },
      { node_id: 'picky', applied: true, stale: false },
    ]);
    expect(flushed(dove.calls()).at(-1)).toBe('fine@example.org');
    // Asked again later, the failed rotation is still not applied there (the cursor has passed it).
    const later = await waitForNodes(s.pool, bad.body.invalidation_id, 0, STALE_AFTER_MS);
    expect(later.find((n) => n.node_id === 'picky')).toMatchObject({ applied: false, failed: true });

    const listed = JSON.parse((await healthy.cli(['node', 'list', '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(listed.find((n) => n.node_id === 'picky')).toMatchObject({ failed_invalidations: 1, last_failed_invalidation_id: bad.body.invalidation_id });
    expect(listed.find((n) => n.node_id === 'healthy')).toMatchObject({ failed_invalidations: 0, last_failed_invalidation_id: null });
    const [header, ...lines] = (await healthy.cli(['node', 'list'])).stdout.trim().split('\n');
    const columns = header!.split(/\s+/);
    const row = Object.fromEntries(lines.find((l) => l.startsWith('picky '))!.split(/\s+/).map((v, i) => [columns[i], v]));
    expect(row).toMatchObject({ FAILED: '1', LAST_FAILED: bad.body.invalidation_id });
    const api = (await (await fetch(`${healthy.adminUrl}/v1/nodes`, { headers: { authorization: `Bearer ${token}` } })).json()) as Array<Record<string, unknown>>;
    expect(api.find((n) => n.node_id === 'picky')).toMatchObject({ failed_invalidations: 1, last_failed_invalidation_id: bad.body.invalidation_id });

    const metrics = await (await fetch(`${picky.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^mailpassd_invalidation_failures\{node_id="picky"\} 1$/m);
    expect(metrics).toMatch(/^mailpassd_invalidation_failures\{node_id="healthy"\} 0$/m);
    expect(metrics).toMatch(/^mailpassd_invalidations_applied_total\{outcome="gave_up"\} 1$/m);
    expect(picky.logs()).toMatch(/recorded as not applied here/);

    // The CLI says the same and exits 1 for a rotation a node gave up on.
    const cli = await healthy.cli(['rotate', 'poison@example.org', '--generate', '--json', '--wait', '30']);
    expect(cli.code, cli.stderr).toBe(1);
    expect(JSON.parse(cli.stdout).nodes.find((n: { node_id: string }) => n.node_id === 'picky')).toMatchObject({ applied: false, failed: true });
  }, 120_000);
});

describe('one node_id, one daemon (point 5)', () => {
  it('a second daemon with a node_id already running refuses to start with exit 78 and says how to fix it; the id is free again once the first stops', async () => {
    const s = await scope();
    const one = await daemon(s, 'twin');
    const two = await startTestDaemon({ databaseUrl: s.url, nodeId: 'twin', waitReady: false });
    s.daemons.push(two);
    expect(await two.exited, two.logs()).toBe(78);
    expect(two.logs()).toMatch(/node_id "twin" is already used by another running mailpassd/);
    expect(two.logs()).toContain('MAILPASSD_NODE_ID');
    expect((await fetch(`${one.adminUrl}/readyz`)).status).toBe(200);

    await one.stop();
    const three = await daemon(s, 'twin');
    expect((await fetch(`${three.adminUrl}/readyz`)).status).toBe(200);
  }, 60_000);
});

describe('long waits (point 6)', () => {
  it('an API rotation waiting 15 s on a live node that never confirms gets its per-node answer; a client slow to send its headers is still cut off', async () => {
    const s = await scope();
    const d = await daemon(s, 'patient', { MAILPASSD_HTTP_TIMEOUT_MS: '2000' });
    const token = await adminToken(d, 'patient');
    await seed(d, token, ['slow@example.org']);
    // A node that is alive (fresh heartbeat) but never moves its cursor.
    await s.pool.query("INSERT INTO nodes (node_id, hostname, applied_invalidation_id) VALUES ('ghost', 'nowhere', 0)");
    const beat = setInterval(() => void s.pool.query("UPDATE nodes SET heartbeat_at = now() WHERE node_id = 'ghost'").catch(() => undefined), 300);
    try {
      const r = await rotate(d, token, 'slow@example.org', 15_000);
      expect(r.status, r.text).toBe(200);
      expect(r.body.complete).toBe(false);
      expect(r.body.nodes).toEqual([
        { node_id: 'ghost', applied: false, stale: false },
        { node_id: 'patient', applied: true, stale: false },
      ]);
    } finally {
      clearInterval(beat);
    }

    const [host, port] = d.adminUrl.replace('http://', '').split(':');
    const closed = await new Promise<boolean>((resolve) => {
      const sock = connect({ host: host!, port: Number(port) }, () => sock.write('POST /v1/domains HTTP/1.1\r\nHost: x\r\n'));
      sock.on('data', () => undefined);
      sock.on('close', () => resolve(true));
      setTimeout(() => {
        sock.destroy();
        resolve(false);
      }, 30_000).unref();
    });
    expect(closed).toBe(true);
  }, 60_000);
});

describe('invalidation log retention (point 7)', () => {
  it('prunes what every registered node has passed once older than retention_hours; a stale node holds its rows until it is removed', async () => {
    const s = await scope();
    const d = await daemon(s, 'keeper', { MAILPASSD_ROTATION_RETENTION_HOURS: '1', MAILPASSD_ROTATION_PRUNE_INTERVAL_MS: '1000' });
    const ids: string[] = [];
    for (const n of [1, 2, 3, 4]) ids.push(await appendInvalidation(s.pool, `log${n}@example.org`, 'kick', true));
    await until('keeper to apply the log', 10_000, async () => (await cursorOf(s, 'keeper')) >= BigInt(ids[3]!));
    // A node that went away after the first entry: it will catch up from there when it returns.
    await s.pool.query("INSERT INTO nodes (node_id, hostname, heartbeat_at, applied_invalidation_id) VALUES ('away', 'elsewhere', now() - interval '1 day', $1)", [ids[0]]);
    // The first three are past the audit age; the fourth is not.
    await s.pool.query("UPDATE invalidations SET created_at = now() - interval '2 hours' WHERE id = ANY($1::bigint[])", [ids.slice(0, 3)]);
    const present = async () => (await s.pool.query<{ id: string }>('SELECT id::text AS id FROM invalidations ORDER BY id')).rows.map((r) => r.id);

    await until('the entry every node passed to be pruned', 15_000, async () => !(await present()).includes(ids[0]!));
    expect(await present()).toEqual(ids.slice(1));

    const removed = await d.cli(['node', 'remove', 'away']);
    expect(removed.code, removed.stderr).toBe(0);
    await until('the entries only the removed node needed to be pruned', 15_000, async () => !(await present()).includes(ids[2]!));
    expect(await present()).toEqual([ids[3]]);
    expect(d.logs()).toMatch(/invalidation log pruned/);
  }, 60_000);
});
