import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase } from '../helpers/postgres.js';
import { adminToken, postJson, startTestDaemon, verify, type TestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor as until } from '../helpers/wait.js';
import { verifyPassword } from '../../src/auth/hash.js';
import { MAX_WAIT_MS, waitForNodes } from '../../src/rotation/wait.js';

/**
 * DESIGN §5 with several real daemons on one database: a rotation through one
 * node takes effect on all of them, the caller learns per node whether the
 * flush and kick were applied, a node that was down catches up from its cursor,
 * concurrent rotations serialise, and a node whose Dovecot cannot be reached
 * says so and keeps its cursor until it can.
 *
 * Every test starts from the same cluster (n1, n2, n3 running, no other node
 * registered) and rotates a mailbox of its own from a password it knows, so
 * any test runs alone (`vitest run -t`) and in any order.
 */
let db: { url: string; drop(): Promise<void> };
let pool: pg.Pool;
const daemons = new Map<string, TestDaemon>();
let token: string;
let scripts: { dir: string; remove(): void };

const BASE = ['n1', 'n2', 'n3'];
const PW0 = 'Correct-Horse-Battery-9';
let mailboxes = 0;
/** This test's mailbox, created with PW0 by beforeEach. */
let address: string;

async function start(nodeId: string, env: Record<string, string> = {}): Promise<TestDaemon> {
  const d = await startTestDaemon({ databaseUrl: db.url, nodeId, env });
  daemons.set(nodeId, d);
  return d;
}

async function stop(nodeId: string): Promise<void> {
  const d = daemons.get(nodeId);
  daemons.delete(nodeId);
  await d?.stop();
}

const live = () => [...daemons.values()];
const first = () => live()[0]!;

async function q<T extends pg.QueryResultRow = any>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await pool.query<T>(text, values)).rows;
}

async function rotateApi(d: TestDaemon, body: Record<string, unknown>) {
  return postJson(`${d.adminUrl}/v1/mailboxes/${address}/rotate`, body, { authorization: `Bearer ${token}` });
}

async function kickApi(d: TestDaemon, body: Record<string, unknown> = {}) {
  return postJson(`${d.adminUrl}/v1/mailboxes/${address}/kick`, body, { authorization: `Bearer ${token}` });
}

async function cursorOf(nodeId: string): Promise<bigint> {
  const [row] = await q<{ c: string }>('SELECT applied_invalidation_id::text AS c FROM nodes WHERE node_id = $1', [nodeId]);
  return BigInt(row!.c);
}

/** The old password is refused and the new one accepted on every running daemon's auth listener. */
async function expectEverywhere(oldPw: string, newPw: string): Promise<void> {
  for (const d of live()) {
    expect((await verify(d, address, oldPw)).body.result, `old password on ${d.authUrl}`).toBe('password_mismatch');
    expect((await verify(d, address, newPw)).body.result, `new password on ${d.authUrl}`).toBe('ok');
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  scripts = tempDir('doveadm');
  // n1 first, alone: it applies the migrations; then the other two in parallel.
  await start('n1');
  await Promise.all([start('n2'), start('n3')]);
  token = await adminToken(first(), 'rotator');
  expect((await postJson(`${first().adminUrl}/v1/domains`, { name: 'example.org' }, { authorization: `Bearer ${token}` })).status).toBe(201);
}, 120_000);

beforeEach(async () => {
  // A test that stopped or killed one of the three and failed before restarting it.
  await Promise.all(BASE.filter((n) => !daemons.has(n)).map((n) => start(n)));
  // Through the API: each CLI process costs a second or more on a busy machine.
  address = `alice${++mailboxes}@example.org`;
  const m = await postJson(`${first().adminUrl}/v1/mailboxes`, { address, display_name: 'Alice Martin', password: PW0 }, { authorization: `Bearer ${token}` });
  expect(m.status, m.text).toBe(201);
}, 120_000);

afterEach(async () => {
  // Nodes a test added are stopped and forgotten (`mailpassd node remove`): a
  // registered node, even stale, is listed in every later rotation's answer.
  await Promise.all([...daemons.keys()].filter((n) => !BASE.includes(n)).map((n) => stop(n)));
  await q('DELETE FROM nodes WHERE NOT (node_id = ANY($1))', [BASE]);
});

afterAll(async () => {
  await Promise.all(live().map((d) => d.stop()));
  await pool?.end();
  await db?.drop();
  scripts?.remove();
});

describe('rotation across three daemons', () => {
  it('a rotation through one node takes effect on all three, each listed applied', async () => {
    for (const d of live()) expect((await verify(d, address, PW0)).body.result).toBe('ok'); // warm every memo
    const next = 'Velvet-Tundra-Quasar-41';
    const r = await rotateApi(daemons.get('n2')!, { password: next, wait_ms: 10_000 });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ address, credential_version: 2, complete: true });
    expect(r.body.nodes).toEqual([
      { node_id: 'n1', applied: true, stale: false },
      { node_id: 'n2', applied: true, stale: false },
      { node_id: 'n3', applied: true, stale: false },
    ]);
    for (const n of ['n1', 'n2', 'n3']) expect(await cursorOf(n)).toBeGreaterThanOrEqual(BigInt(r.body.invalidation_id));
    // Each node's own record of when it applied it (the console shows it); doveadm `none` kicks nothing to count.
    const outcomes = await waitForNodes(pool, r.body.invalidation_id, 0, 10_000);
    for (const o of outcomes) {
      expect(o).toMatchObject({ applied: true, applied_ms: expect.any(Number) });
      expect(o.applied_ms).toBeGreaterThanOrEqual(0);
      expect(o).not.toHaveProperty('kicked');
    }
    await expectEverywhere(PW0, next);
  });

  // wait_ms is twice this test's time limit: the answer can only come in time
  // if the rotation did not wait for n3 (no clock is read; a hang fails).
  it('a stopped node is listed stale and not waited for; restarted with the same node id it catches up from its cursor', async () => {
    const before = await cursorOf('n3');
    await stop('n3');
    // It said goodbye: stale at once, not only once its heartbeat ages.
    const listed = (await (await fetch(`${first().adminUrl}/v1/nodes`, { headers: { authorization: `Bearer ${token}` } })).json()) as Array<{ node_id: string; stale: boolean }>;
    expect(listed.find((n) => n.node_id === 'n3')).toMatchObject({ stale: true });
    const next = 'Orbit-Lantern-Mosaic-73';
    const r = await rotateApi(daemons.get('n1')!, { password: next, wait_ms: MAX_WAIT_MS });
    expect(r.status, r.text).toBe(200);
    expect(r.body.complete).toBe(true);
    expect(r.body.nodes).toEqual([
      { node_id: 'n1', applied: true, stale: false },
      { node_id: 'n2', applied: true, stale: false },
      { node_id: 'n3', applied: false, stale: true },
    ]);
    const inv = BigInt(r.body.invalidation_id);
    expect(await cursorOf('n3')).toBe(before);
    await expectEverywhere(PW0, next);

    // A second entry while n3 is still away: it must apply both, in order.
    const k = await kickApi(daemons.get('n1')!);
    expect(k.status, k.text).toBe(200);
    const last = BigInt(k.body.invalidation_id);

    const n3 = await start('n3');
    await until('n3 to catch up', 10_000, async () => (await cursorOf('n3')) >= last);
    const [row] = await q('SELECT last_error FROM nodes WHERE node_id = $1', ['n3']);
    expect(row.last_error).toBeNull();
    // Logged right after the cursor moved; the daemon's log stream is asynchronous.
    await until('n3 to log the catch-up', 5_000, async () => n3.logs().includes(`"invalidation_id":"${inv}"`));
    expect((await verify(n3, address, next)).body.result).toBe('ok');

    // Back in the fan-out: the next rotation waits for n3 again and sees it applied.
    const again = 'Saffron-Glacier-Pivot-58';
    const r2 = await rotateApi(n3, { password: again });
    expect(r2.body.nodes.map((n: { node_id: string; applied: boolean }) => [n.node_id, n.applied])).toEqual([
      ['n1', true],
      ['n2', true],
      ['n3', true],
    ]);
    await expectEverywhere(next, again);
  }, MAX_WAIT_MS / 2);

  it('concurrent rotations of one mailbox serialise: +5 versions, coherent history and audit, one final password', async () => {
    const [{ credential_version: v0 }] = await q('SELECT credential_version FROM mailboxes WHERE address = $1', [address]);
    const passwords = ['Amber', 'Cobalt', 'Indigo', 'Magenta', 'Vermilion'].map((c, i) => `${c}-Harbor-Falcon-${i}7x`);
    const via = live();
    const results = await Promise.all(passwords.map((pw, i) => rotateApi(via[i % via.length]!, { password: pw, wait_ms: 10_000 })));
    for (const r of results) expect(r.status, r.text).toBe(200);

    const versions = results.map((r) => r.body.credential_version as number).sort((a, b) => a - b);
    expect(versions).toEqual([v0 + 1, v0 + 2, v0 + 3, v0 + 4, v0 + 5]);
    expect(new Set(results.map((r) => r.body.invalidation_id)).size).toBe(5);
    // Commit order = version order = invalidation order.
    const byVersion = [...results].sort((a, b) => a.body.credential_version - b.body.credential_version);
    const ids = byVersion.map((r) => BigInt(r.body.invalidation_id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    for (const r of results) expect(r.body.complete).toBe(true);

    const [row] = await q('SELECT id, credential_version, password_hash FROM mailboxes WHERE address = $1', [address]);
    expect(row.credential_version).toBe(v0 + 5);
    // History keeps the last 5 (the policy's history_count): exactly this burst, one row per version in
    // change order, the newest being the current hash - in id order and in the set_at order that the
    // no-reuse check reads (set_at is now(), the START of the writing transaction).
    const history = await q<{ password_hash: string }>('SELECT password_hash FROM password_history WHERE mailbox_id = $1 ORDER BY id', [row.id]);
    expect(history).toHaveLength(5);
    expect(history[4]!.password_hash).toBe(row.password_hash);
    const bySetAt = await q<{ password_hash: string }>('SELECT password_hash FROM password_history WHERE mailbox_id = $1 ORDER BY set_at DESC, id DESC', [row.id]);
    expect(bySetAt.map((h) => h.password_hash)).toEqual(history.map((h) => h.password_hash).reverse());
    const inVersionOrder = byVersion.map((r) => passwords[results.indexOf(r)]!);
    for (const [i, h] of history.entries()) expect(await verifyPassword(h.password_hash, inVersionOrder[i]!), `history row ${i}`).toBe(true);
    const audit = await q<{ details: { credential_version: number; invalidation_id: string } }>(
      "SELECT details FROM audit_log WHERE action = 'password.rotate' AND target = $1 AND (details->>'credential_version')::int > $2 ORDER BY id",
      [address, v0],
    );
    expect(audit.map((a) => a.details.credential_version)).toEqual([v0 + 1, v0 + 2, v0 + 3, v0 + 4, v0 + 5]);
    expect(audit.map((a) => a.details.invalidation_id)).toEqual(byVersion.map((r) => r.body.invalidation_id));

    const winner = passwords[results.findIndex((r) => r.body.credential_version === v0 + 5)]!;
    for (const d of live()) {
      for (const pw of [PW0, ...passwords]) {
        expect((await verify(d, address, pw)).body.result, `${pw} on ${d.authUrl}`).toBe(pw === winner ? 'ok' : 'password_mismatch');
      }
    }
  });

  it('the CLI rotate --password-stdin --json prints the per-node result and exits 0', async () => {
    const next = 'Juniper-Compass-Ripple-26';
    const r = await first().cli(['rotate', address, '--password-stdin', '--json', '--wait', '10'], `${next}\n`);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ address, complete: true, invalidation_id: expect.stringMatching(/^\d+$/) });
    expect(out).not.toHaveProperty('generated_password');
    expect(out.nodes).toEqual([
      { node_id: 'n1', applied: true, stale: false },
      { node_id: 'n2', applied: true, stale: false },
      { node_id: 'n3', applied: true, stale: false },
    ]);
    expect(r.stdout + r.stderr).not.toContain(next);
    const [audit] = await q("SELECT actor FROM audit_log WHERE action = 'password.rotate' AND target = $1 ORDER BY id DESC LIMIT 1", [address]);
    expect(audit.actor).toMatch(/^cli:/);
    await expectEverywhere(PW0, next);
  });

  it('the CLI rotate --generate prints the new password exactly once, and it works everywhere', async () => {
    const r = await first().cli(['rotate', address, '--generate']);
    expect(r.code, r.stderr).toBe(0);
    const m = /generated password \(shown once\): (\S+)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const generated = m![1]!;
    expect(generated.length).toBeGreaterThanOrEqual(16);
    expect(r.stdout.split(generated)).toHaveLength(2);
    expect(r.stderr).not.toContain(generated);
    for (const n of ['n1', 'n2', 'n3']) expect(r.stdout).toMatch(new RegExp(`${n}\\s+applied`));
    expect(JSON.stringify(await q('SELECT details FROM audit_log'))).not.toContain(generated);
    await expectEverywhere(PW0, generated);
  });

  // As for the stopped node: wait_ms is twice this test's time limit, so the
  // answer comes in time only if the wait ended when n2's heartbeat went stale.
  it('a crashed node (no goodbye) is waited for only until its heartbeat goes stale, then catches up on restart', async () => {
    const n2 = daemons.get('n2')!;
    daemons.delete('n2');
    await n2.stop('SIGKILL');
    const next = 'Lilac-Quarry-Beacon-35';
    const r = await rotateApi(first(), { password: next, wait_ms: MAX_WAIT_MS });
    expect(r.status, r.text).toBe(200);
    expect(r.body.complete).toBe(true);
    expect(r.body.nodes.find((n: { node_id: string }) => n.node_id === 'n2')).toEqual({ node_id: 'n2', applied: false, stale: true });
    await expectEverywhere(PW0, next);
    await start('n2');
    await until('n2 to catch up', 10_000, async () => (await cursorOf('n2')) >= BigInt(r.body.invalidation_id));
    await expectEverywhere(PW0, next);
  }, MAX_WAIT_MS / 2);

  it('a node with local doveadm flushes the auth cache, then kicks (unless kick: false), with its -c config; a new node does not replay old entries', async () => {
    const calls = path.join(scripts.dir, 'calls.log');
    const fake = path.join(scripts.dir, 'doveadm-recording');
    rmSync(calls, { force: true });
    // Like the real one: `kick` of a user without sessions exits 68 (EX_NOUSER) - not an error.
    writeFileSync(fake, `#!/bin/sh\necho "$*" >> ${calls}\ncase "$*" in *kick*) exit 68;; esac\nexit 0\n`);
    chmodSync(fake, 0o755);
    // An entry from before the node exists: it must never be applied there.
    expect((await kickApi(first())).status).toBe(200);
    await start('n5-doveadm', { MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_BINARY: fake, MAILPASSD_DOVEADM_CONFIG: '/etc/dovecot/test.conf' });

    const next = 'Walnut-Prism-Harvest-19';
    const r = await rotateApi(first(), { password: next, wait_ms: 10_000 });
    expect(r.status, r.text).toBe(200);
    expect(r.body.nodes.find((n: { node_id: string }) => n.node_id === 'n5-doveadm')).toEqual({ node_id: 'n5-doveadm', applied: true, stale: false });
    // Applied means the node's cursor passed this rotation, and rows are applied in
    // id order: a replayed kick from before its start would be listed first.
    // (`--`: an address is never read as an option.)
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual([`-c /etc/dovecot/test.conf auth cache flush -- ${address}`, `-c /etc/dovecot/test.conf kick -- ${address}`]);
    // Exit 68: nobody was logged in, so 0 sessions were kicked there.
    const n5 = (await waitForNodes(pool, r.body.invalidation_id, 0, 10_000)).find((n) => n.node_id === 'n5-doveadm');
    expect(n5).toMatchObject({ applied: true, kicked: 0, applied_ms: expect.any(Number) });
    await expectEverywhere(PW0, next);

    writeFileSync(calls, '');
    const generated = await rotateApi(first(), { generate: true, kick: false, wait_ms: 10_000 });
    expect(generated.status, generated.text).toBe(200);
    expect(generated.body.complete).toBe(true);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual([`-c /etc/dovecot/test.conf auth cache flush -- ${address}`]);
    const noKick = (await waitForNodes(pool, generated.body.invalidation_id, 0, 10_000)).find((n) => n.node_id === 'n5-doveadm');
    expect(noKick).toMatchObject({ applied: true, applied_ms: expect.any(Number) });
    expect(noKick).not.toHaveProperty('kicked');
    await expectEverywhere(next, generated.body.generated_password);
  });

  it('a node whose doveadm fails is reported not applied with the error, the others applied, the CLI exits 1; within its retry budget it keeps retrying without advancing', async () => {
    // Like `doveadm auth cache flush` when auth-master is unreachable: an error on stderr, exit status 0.
    const fake = path.join(scripts.dir, 'doveadm');
    writeFileSync(fake, '#!/bin/sh\necho "Error: auth-master: connect(/run/dovecot/auth-master) failed: No such file or directory" >&2\nexit 0\n');
    chmodSync(fake, 0o755);
    // A budget this test never spends (giving up is test/integration/fanout.test.ts).
    const bad = await start('n4-broken', { MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_BINARY: fake, MAILPASSD_ROTATION_RETRY_ATTEMPTS: '10000' });
    const startCursor = await cursorOf('n4-broken');

    const next = 'Tangerine-Meridian-Quill-84';
    const started = Date.now();
    const r = await first().cli(['rotate', address, '--password-stdin', '--json', '--wait', '3'], next);
    // A lower bound, so no machine is too slow for it: the wait until --wait's
    // deadline is the behaviour (a live node is waited for, however it fails).
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.complete).toBe(false);
    const byId = Object.fromEntries(out.nodes.map((n: { node_id: string }) => [n.node_id, n]));
    for (const n of ['n1', 'n2', 'n3']) expect(byId[n]).toEqual({ node_id: n, applied: true, stale: false });
    expect(byId['n4-broken']).toMatchObject({ applied: false, stale: false, error: expect.stringMatching(/doveadm auth cache flush: Error: auth-master/) });
    // The password itself is in force everywhere, the broken node's auth listener included.
    await expectEverywhere(PW0, next);

    // It keeps retrying (polling), keeps the error, and never moves its cursor past the failed entry.
    const inv = BigInt(out.invalidation_id);
    const failedCount = async () => {
      const m = /^mailpassd_invalidations_applied_total\{outcome="failed"\} (\d+)$/m.exec(await (await fetch(`${bad.adminUrl}/metrics`)).text());
      return m ? Number(m[1]) : 0;
    };
    const seen = await failedCount();
    await until('the broken node to retry', 5_000, async () => (await failedCount()) > seen);
    const [row] = await q('SELECT applied_invalidation_id::text AS c, last_error, heartbeat_at > now() - interval \'2 seconds\' AS live FROM nodes WHERE node_id = $1', ['n4-broken']);
    expect(BigInt(row.c)).toBe(startCursor);
    expect(BigInt(row.c)).toBeLessThan(inv);
    expect(row.last_error).toMatch(/auth-master/);
    expect(row.live).toBe(true);
    expect(bad.logs()).toMatch(/invalidation not applied; will retry/);
    expect(bad.logs()).not.toContain(next);

    // The API says the same; the healthy nodes are not held back by the broken one.
    const k = await kickApi(first(), { wait_ms: 1_000 });
    expect(k.status, k.text).toBe(200);
    expect(k.body.complete).toBe(false);
    const broken = k.body.nodes.find((n: { node_id: string }) => n.node_id === 'n4-broken');
    expect(broken).toMatchObject({ applied: false, error: expect.stringMatching(/auth-master/) });
    expect(k.body.nodes.filter((n: { applied: boolean }) => n.applied).map((n: { node_id: string }) => n.node_id)).toEqual(['n1', 'n2', 'n3']);

    // Once stopped it is stale: rotations no longer wait for it, and its cursor stays where it was.
    await stop('n4-broken');
    const done = await rotateApi(first(), { generate: true, wait_ms: 10_000 });
    expect(done.status, done.text).toBe(200);
    expect(done.body.complete).toBe(true);
    expect(done.body.nodes.find((n: { node_id: string }) => n.node_id === 'n4-broken')).toMatchObject({ applied: false, stale: true });
    expect(await cursorOf('n4-broken')).toBe(startCursor);
  });
});
