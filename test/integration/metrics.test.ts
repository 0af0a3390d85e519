import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/postgres.js';
import { adminToken, postJson, startTestDaemon, verify, type TestDaemon } from '../helpers/daemon.js';

/**
 * /metrics on the admin listener: what an operator graphs and alerts on. Each
 * test has a database and daemons of its own: the counters it reads start at
 * zero, and no test inherits another's nodes.
 */
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Daemon `a` (at most 2 failures per user and address) with alice, and its global token; `b` when asked for. */
async function cluster(withB: boolean): Promise<{ a: TestDaemon; b: TestDaemon | null; token: string }> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const a = await startTestDaemon({ databaseUrl: db.url, nodeId: 'metrics-a', env: { MAILPASSD_AUTH_MAX_FAILURES_PER_USER_IP: '2' } });
  cleanups.push(async () => void (await a.stop()));
  const b = withB ? await startTestDaemon({ databaseUrl: db.url, nodeId: 'metrics-b' }) : null;
  if (b) cleanups.push(async () => void (await b.stop()));
  const token = await adminToken(a, 'metrics');
  const auth = { authorization: `Bearer ${token}` };
  expect((await postJson(`${a.adminUrl}/v1/domains`, { name: 'example.org' }, auth)).status).toBe(201);
  const m = await postJson(`${a.adminUrl}/v1/mailboxes`, { address: 'alice@example.org', password: 'Correct-Horse-Battery-9' }, auth);
  expect(m.status, m.text).toBe(201);
  return { a, b, token };
}

const scrape = async (d: TestDaemon) => (await fetch(`${d.adminUrl}/metrics`)).text();
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

describe('/metrics', () => {
  it('counts auth results by result and service, latency, throttling, rotations and database errors', async () => {
    const { a, token } = await cluster(false);
    await verify(a, 'alice@example.org', 'Correct-Horse-Battery-9');
    await verify(a, 'alice@example.org', 'Correct-Horse-Battery-9', { service: 'smtp' });
    await verify(a, 'alice@example.org', 'wrong-wrong-wrong', { remote_ip: '192.0.2.1' });
    await verify(a, 'alice@example.org', 'wrong-wrong-wrong', { remote_ip: '192.0.2.1' });
    await verify(a, 'alice@example.org', 'wrong-wrong-wrong', { remote_ip: '192.0.2.1' });
    await verify(a, 'nobody@example.org', 'wrong-wrong-wrong', { service: 'weird<service>' });
    const rot = await postJson(`${a.adminUrl}/v1/mailboxes/alice@example.org/rotate`, { generate: true, wait_ms: 5000 }, { authorization: `Bearer ${token}` });
    expect(rot.status).toBe(200);
    const m = await scrape(a);
    expect(value(m, 'mailpassd_auth_results_total{result="ok",service="imap"}')).toBe(1);
    expect(value(m, 'mailpassd_auth_results_total{result="ok",service="smtp"}')).toBe(1);
    expect(value(m, 'mailpassd_auth_results_total{result="password_mismatch",service="imap"}')).toBe(2);
    expect(value(m, 'mailpassd_auth_results_total{result="throttled",service="imap"}')).toBe(1);
    expect(value(m, 'mailpassd_auth_results_total{result="user_unknown",service="other"}')).toBe(1);
    expect(value(m, 'mailpassd_throttled_total')).toBe(1);
    expect(value(m, 'mailpassd_auth_duration_seconds_count{result="ok"}')).toBe(2);
    expect(value(m, 'mailpassd_rotations_total{reason="rotate"}')).toBe(1);
    expect(value(m, 'mailpassd_argon2_queue_depth')).toBe(0);
    expect(m).toMatch(/^mailpassd_database_errors_total \d+$/m);
    expect(m).toMatch(/^mailpassd_process_resident_memory_bytes \d+/m);
    expect(m).not.toContain('weird<service>');
  });

  it('shows the invalidation lag of every node, a stopped one included', async () => {
    const { a, b, token } = await cluster(true);
    await b!.stop();
    await postJson(`${a.adminUrl}/v1/mailboxes/alice@example.org/rotate`, { generate: true, wait_ms: 2000 }, { authorization: `Bearer ${token}` });
    const m = await scrape(a);
    expect(value(m, 'mailpassd_invalidation_lag{node_id="metrics-a"}')).toBe(0);
    expect(value(m, 'mailpassd_invalidation_lag{node_id="metrics-b"}')).toBe(1);
  });

  it('lists the nodes over the API, and a decommissioned node can be removed', async () => {
    const { a, b, token } = await cluster(true);
    await b!.stop();
    const res = await fetch(`${a.adminUrl}/v1/nodes`, { headers: { authorization: `Bearer ${token}` } });
    const nodes = (await res.json()) as Array<{ node_id: string; stale: boolean }>;
    expect(nodes.map((n) => [n.node_id, n.stale])).toEqual([
      ['metrics-a', false],
      ['metrics-b', true],
    ]);
    const removed = await a.cli(['node', 'remove', 'metrics-b']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse((await a.cli(['node', 'list', '--json'])).stdout).map((n: { node_id: string }) => n.node_id)).toEqual(['metrics-a']);
    expect((await a.cli(['node', 'remove', 'metrics-b'])).code).toBe(1);
  });
});
