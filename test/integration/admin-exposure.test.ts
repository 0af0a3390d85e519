/**
 * What the admin listener shows without a token, or to a token limited to one
 * domain (issue 10 point 15): /metrics and /openapi.json behind the token when
 * configured, no driver text from /readyz, node errors for global tokens only.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase } from '../helpers/postgres.js';
import { adminToken, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

const get = async (d: TestDaemon, path: string, token?: string) => {
  const res = await fetch(`${d.adminUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(20_000) });
  return { status: res.status, text: await res.text() };
};

describe('admin.metrics_require_token / admin.openapi_require_token', () => {
  let db: { url: string; drop(): Promise<void> };
  let d: TestDaemon;
  let global: string;
  let scoped: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    d = await startTestDaemon({
      databaseUrl: db.url,
      env: { MAILPASSD_ADMIN_METRICS_REQUIRE_TOKEN: 'true', MAILPASSD_ADMIN_OPENAPI_REQUIRE_TOKEN: 'true', MAILPASSD_AUTH_SECRET: 'exposure-secret-0123456789' },
    });
    global = await adminToken(d, 'prometheus');
    expect((await d.cli(['domain', 'add', 'example.org'])).code).toBe(0);
    scoped = await adminToken(d, 'example-org', 'example.org');
  });
  afterAll(async () => {
    await d?.stop();
    await db?.drop();
  });

  it('/metrics: 401 without a token, 403 for a domain token, 200 with a global token', async () => {
    const none = await get(d, '/metrics');
    expect(none.status).toBe(401);
    expect(none.text).not.toContain('mailpassd_');
    expect((await get(d, '/metrics', `mpd_${'A'.repeat(43)}`)).status).toBe(401);
    const dom = await get(d, '/metrics', scoped);
    expect(dom.status).toBe(403);
    expect(dom.text).not.toContain('mailpassd_');
    const ok = await get(d, '/metrics', global);
    expect(ok.status).toBe(200);
    expect(ok.text).toMatch(/^# HELP mailpassd_/m);
  });

  it('/openapi.json: 401 without a token, 200 with one', async () => {
    expect((await get(d, '/openapi.json')).status).toBe(401);
    const ok = await get(d, '/openapi.json', scoped);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).openapi).toMatch(/^3\./);
  });

  it('probes stay open', async () => {
    expect((await get(d, '/healthz')).status).toBe(200);
    expect((await get(d, '/readyz')).status).toBe(200);
  });

  it('with a secret, the start logs no warning about the auth listener', () => {
    expect(d.logs()).toContain('mailpassd serving');
    expect(d.logs()).not.toContain('without auth.secret');
  });
});

describe('/v1/nodes and /readyz', () => {
  let db: { url: string; drop(): Promise<void> };
  let d: TestDaemon;
  let global: string;
  let scoped: string;
  const ERROR = 'doveadm: connect(/run/dovecot/auth-master) failed: Permission denied (user bob@other.example)';
  beforeAll(async () => {
    db = await createTestDatabase();
    d = await startTestDaemon({ databaseUrl: db.url, nodeId: 'node-exposure' });
    global = await adminToken(d, 'root');
    expect((await d.cli(['domain', 'add', 'example.org'])).code).toBe(0);
    scoped = await adminToken(d, 'example-org', 'example.org');
  });
  afterAll(async () => {
    await d?.stop();
    await db?.drop();
  });

  it('a TCP auth listener without a secret is a warning at start', () => {
    const line = d.logs().split('\n').find((l) => l.includes('without auth.secret'));
    expect(JSON.parse(line ?? '{}')).toMatchObject({ level: 40, msg: expect.stringMatching(/^auth listener is TCP without auth\.secret/) });
  });

  it('metrics and openapi are public by default', async () => {
    expect((await get(d, '/metrics')).status).toBe(200);
    expect((await get(d, '/openapi.json')).status).toBe(200);
  });

  it('a node\'s last_error goes to global tokens only', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query('UPDATE nodes SET last_error = $1 WHERE node_id = $2', [ERROR, 'node-exposure']);
    await c.end();
    const all = await get(d, '/v1/nodes', global);
    expect(all.status).toBe(200);
    expect(JSON.parse(all.text)).toEqual([expect.objectContaining({ node_id: 'node-exposure', last_error: ERROR })]);
    const dom = await get(d, '/v1/nodes', scoped);
    expect(dom.status).toBe(200);
    const nodes = JSON.parse(dom.text) as Array<Record<string, unknown>>;
    expect(nodes).toEqual([expect.objectContaining({ node_id: 'node-exposure', stale: false })]);
    expect(nodes[0]).not.toHaveProperty('last_error');
    expect(dom.text).not.toContain('auth-master');
  });

  it('/readyz with the database gone: 503 without the driver\'s text; the log has it', async () => {
    // A database and daemon of its own, since it takes the database away: the other tests may run after it.
    const gone = await createTestDatabase();
    const lone = await startTestDaemon({ databaseUrl: gone.url, nodeId: 'node-no-database' });
    try {
      const dbName = new URL(gone.url).pathname.slice(1);
      await gone.drop();
      const r = await get(lone, '/readyz');
      expect(r.status).toBe(503);
      expect(JSON.parse(r.text)).toEqual({ status: 'not_ready', reason: 'database unavailable' });
      expect(r.text).not.toContain(dbName);
      // The log line is written asynchronously; it names the cause.
      await vi.waitFor(() => {
        const line = lone.logs().split('\n').find((l) => l.includes('readyz: database unavailable'));
        expect(JSON.parse(line ?? '{}').err).toContain(`database "${dbName}" does not exist`);
      }, { timeout: 10_000 });
    } finally {
      await lone.stop();
    }
  });
});
