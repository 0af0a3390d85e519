import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase } from '../helpers/postgres.js';
import { adminToken, startTestDaemon, verify, type TestDaemon } from '../helpers/daemon.js';

/**
 * Every admin route of the CONTRACT, through a real `mailpassd serve` over
 * loopback HTTP, against a real PostgreSQL. The database is read directly to
 * check what a refused change leaves behind.
 */
let db: { url: string; drop(): Promise<void> };
let pool: pg.Pool;
let d: TestDaemon;
let root: string; // global token

const PW = 'Correct-Horse-Battery-9';
const PW2 = 'Velvet-Tundra-Quasar-41';

interface Res {
  status: number;
  type: string;
  text: string;
  body: any;
}

async function call(method: string, path: string, opts: { token?: string | null; json?: unknown; raw?: string | Buffer; type?: string; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? root : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | Buffer | undefined;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] = 'application/json';
  } else if (opts.raw !== undefined) {
    body = opts.raw;
    headers['content-type'] = opts.type ?? 'application/json';
  }
  const res = await fetch(`${d.adminUrl}${path}`, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, body: parsed };
}

/** The one error shape: problem+json with a stable snake_case code and a status matching the response. */
function expectProblem(r: Res, status: number, code?: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.type).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ type: expect.stringMatching(/^urn:mailpassd:error:/), title: expect.any(String), status, detail: expect.any(String) });
  expect(r.body.code).toMatch(/^[a-z][a-z0-9_]*$/);
  expect(r.body.type).toBe(`urn:mailpassd:error:${r.body.code}`);
  if (code) expect(r.body.code).toBe(code);
}

async function q<T extends pg.QueryResultRow = any>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await pool.query<T>(text, values)).rows;
}

/** Everything a password change writes: the row, its history, the audit log and the invalidation log. */
async function snapshot(address: string) {
  const [row] = await q('SELECT password_hash, credential_version, password_changed_at, updated_at, must_change FROM mailboxes WHERE address = $1', [address]);
  const history = await q('SELECT h.id, h.password_hash FROM password_history h JOIN mailboxes m ON m.id = h.mailbox_id WHERE m.address = $1 ORDER BY h.id', [address]);
  const [audit] = await q('SELECT count(*)::int AS n, max(id)::text AS last FROM audit_log');
  const [inv] = await q('SELECT count(*)::int AS n, max(id)::text AS last FROM invalidations');
  return { row, history, audit, inv };
}

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  d = await startTestDaemon({ databaseUrl: db.url, nodeId: 'admin-api-node' });
  root = await adminToken(d, 'root');
}, 120_000);

afterAll(async () => {
  await d?.stop();
  await pool?.end();
  await db?.drop();
});

/*
 * Each test has names of its own: EX stands for "example.org", OTHER for a
 * second domain, and seed() creates there what the test starts from. No test
 * sees what another created or changed, so each runs alone and in any order.
 */
let seq = 0;
let EX: string;
let OTHER: string;
let ALICE: string;
let BOB: string;
let CAROL: string;
beforeEach(() => {
  seq++;
  EX = `ex${seq}.example`;
  OTHER = `other${seq}.example`;
  ALICE = `alice@${EX}`;
  BOB = `bob@${EX}`;
  CAROL = `carol@${OTHER}`;
});

/** Domains EX and OTHER, and the mailboxes asked for: alice (Alice Martin, PW) and bob (PW) in EX, carol (PW) in OTHER. */
async function seed(...mailboxes: Array<'alice' | 'bob' | 'carol'>): Promise<void> {
  for (const name of [EX, OTHER]) expect((await call('POST', '/v1/domains', { json: { name } })).status).toBe(201);
  const make = { alice: { address: ALICE, display_name: 'Alice Martin', password: PW }, bob: { address: BOB, password: PW }, carol: { address: CAROL, password: PW } };
  for (const m of mailboxes) {
    const r = await call('POST', '/v1/mailboxes', { json: make[m] });
    expect(r.status, r.text).toBe(201);
  }
}

/** A token limited to EX, named `scoped-<n>` (a CLI process: only the tests that need one make it). */
async function scopedToken(): Promise<{ token: string; name: string }> {
  const name = `scoped-${seq}`;
  return { token: await adminToken(d, name, EX), name };
}

describe('admin API authentication', () => {
  it('answers 401 with one and the same body for missing, malformed, unknown and revoked tokens', async () => {
    const revoked = await adminToken(d, 'to-revoke');
    expect((await call('GET', '/v1/domains', { token: revoked })).status).toBe(200);
    const rv = await d.cli(['token', 'revoke', 'to-revoke']);
    expect(rv.code, rv.stderr).toBe(0);

    const variants: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer' },
      { authorization: 'Bearer not-a-token' },
      { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
      { authorization: `bearer ${root}` }, // scheme is case-sensitive here: malformed
      { authorization: `Bearer ${root}x` },
      { authorization: `Bearer mpd_${'A'.repeat(43)}` }, // well-formed, unknown
      { authorization: `Bearer ${revoked}` },
    ];
    const bodies = new Set<string>();
    for (const headers of variants) {
      const r = await call('GET', '/v1/domains', { token: null, headers });
      expectProblem(r, 401, 'unauthorized');
      bodies.add(r.text);
    }
    expect([...bodies]).toHaveLength(1);
    // Also on writes and on routes that do not exist: nothing is revealed before the token is checked.
    expect((await call('POST', '/v1/domains', { token: null, json: { name: 'x.example' } })).text).toBe([...bodies][0]);
    expect((await call('GET', '/v1/nothing-here', { token: `mpd_${'B'.repeat(43)}` })).text).toBe([...bodies][0]);
    expect(await q('SELECT 1 FROM domains WHERE name = $1', ['x.example'])).toHaveLength(0);
  });

  it('needs no token for probes, the API description, metrics and self-service', async () => {
    expect((await call('GET', '/healthz', { token: null })).status).toBe(200);
    expect((await call('GET', '/readyz', { token: null })).status).toBe(200);
    expect((await call('GET', '/openapi.json', { token: null })).status).toBe(200);
    expect((await call('GET', '/metrics', { token: null })).status).toBe(200);
    // Reaches the route (400 for the missing fields), not the token check.
    expectProblem(await call('POST', '/v1/self-service/password', { token: null, json: {} }), 400, 'invalid_request');
  });
});


describe('domains', () => {
  it('creates (normalised), lists, refuses duplicates and invalid names', async () => {
    const EMPTY = `empty${seq}.example`;
    const created = await call('POST', '/v1/domains', { json: { name: EX.toUpperCase() } });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ name: EX, enabled: true, mailbox_count: 0 });
    expect(Date.parse(created.body.created_at)).not.toBeNaN();
    expect((await call('POST', '/v1/domains', { json: { name: OTHER } })).status).toBe(201);
    expect((await call('POST', '/v1/domains', { json: { name: EMPTY } })).status).toBe(201);

    expectProblem(await call('POST', '/v1/domains', { json: { name: `${EX.toUpperCase()}.` } }), 409, 'domain_exists');
    expectProblem(await call('POST', '/v1/domains', { json: { name: 'not a domain' } }), 400, 'invalid_domain');
    expectProblem(await call('POST', '/v1/domains', { json: { name: '' } }), 400, 'invalid_request');

    const list = await call('GET', '/v1/domains');
    expect(list.status).toBe(200);
    const mine = [EMPTY, EX, OTHER];
    expect(list.body.map((x: { name: string }) => x.name).filter((n: string) => mine.includes(n))).toEqual(mine);
    const audit = await q("SELECT actor, action FROM audit_log WHERE action = 'domain.add' AND target = ANY($1) ORDER BY id", [mine]);
    expect(audit).toEqual([
      { actor: 'token:root', action: 'domain.add' },
      { actor: 'token:root', action: 'domain.add' },
      { actor: 'token:root', action: 'domain.add' },
    ]);
  });

  it('deletes an empty domain, refuses one with mailboxes, 404 for an unknown one', async () => {
    await seed('alice');
    const r = await call('DELETE', `/v1/domains/${OTHER}`);
    expect(r.status, r.text).toBe(204);
    expect(r.text).toBe('');
    expectProblem(await call('DELETE', `/v1/domains/${OTHER}`), 404, 'domain_not_found');
    expectProblem(await call('DELETE', `/v1/domains/${EX}`), 409, 'domain_not_empty');
    expectProblem(await call('GET', '/v1/domains/nowhere.example/mailboxes'), 404, 'domain_not_found');
  });
});

describe('mailboxes', () => {
  it('creates with a given password: 201, never echoes the password or a hash, the password works', async () => {
    await seed();
    const r = await call('POST', '/v1/mailboxes', { json: { address: `Alice@${EX.toUpperCase()}`, display_name: 'Alice Martin', password: PW } });
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({ address: ALICE, domain: EX, display_name: 'Alice Martin', enabled: true, credential_version: 1 });
    expect(r.body).not.toHaveProperty('generated_password');
    expect(r.text).not.toContain(PW);
    expect(r.text).not.toMatch(/argon2|password_hash/);
    expect((await verify(d, ALICE, PW)).body.result).toBe('ok');
    expectProblem(await call('POST', '/v1/mailboxes', { json: { address: ALICE, password: PW2 } }), 409, 'mailbox_exists');
    expectProblem(await call('POST', '/v1/mailboxes', { json: { address: 'x@nowhere.example', password: PW2 } }), 404, 'domain_not_found');
    expectProblem(await call('POST', '/v1/mailboxes', { json: { address: 'no-at-sign', password: PW2 } }), 400, 'invalid_address');
  });

  it('creates with generate: true and returns the password once', async () => {
    await seed();
    const r = await call('POST', '/v1/mailboxes', { json: { address: BOB, generate: true, quota_bytes: 1024 } });
    expect(r.status, r.text).toBe(201);
    expect(r.body.generated_password).toMatch(/^.{16,}$/);
    expect(r.body.quota_bytes).toBe(1024);
    expect((await verify(d, BOB, r.body.generated_password)).body.result).toBe('ok');
    const shown = await call('GET', `/v1/mailboxes/${BOB}`);
    expect(shown.body).not.toHaveProperty('generated_password');
    expect(JSON.stringify(await q('SELECT details FROM audit_log WHERE target = $1', [BOB]))).not.toContain(r.body.generated_password);
  });

  it('refuses password and generate together, and neither, writing nothing', async () => {
    await seed();
    const dan = `dan@${EX}`;
    expectProblem(await call('POST', '/v1/mailboxes', { json: { address: dan, password: PW, generate: true } }), 400, 'password_conflict');
    expectProblem(await call('POST', '/v1/mailboxes', { json: { address: dan } }), 400, 'password_missing');
    expect(await q('SELECT 1 FROM mailboxes WHERE address = $1', [dan])).toHaveLength(0);
  });

  it('refuses a personal password at creation with 422 naming every failed rule', async () => {
    await seed();
    const dan = `dan@${EX}`;
    const r = await call('POST', '/v1/mailboxes', { json: { address: dan, display_name: 'Dan Smith', password: 'Smith-Dan-1985' } });
    expectProblem(r, 422, 'policy_refused');
    const codes = r.body.violations.map((v: { code: string }) => v.code);
    expect(codes).toEqual(expect.arrayContaining(['contains_name', 'contains_date']));
    expect(await q('SELECT 1 FROM mailboxes WHERE address = $1', [dan])).toHaveLength(0);
  });

  it('checks the policy and hashes before its transaction: no lock or pooled connection is held across argon2 and zxcvbn', async () => {
    const LOCKED = `locked${seq}.example`;
    expect((await call('POST', '/v1/domains', { json: { name: LOCKED } })).status).toBe(201);
    // Hold the domain row the creation's transaction locks (FOR SHARE, against a concurrent removal).
    const holder = await pool.connect();
    let settled = false;
    const lockWaiter = async (): Promise<'waiting'> => {
      for (;;) {
        const [w] = await q("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'mailpassd' AND wait_event_type = 'Lock'");
        if (w.n > 0 || settled) return 'waiting';
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT name FROM domains WHERE name = $1 FOR UPDATE', [LOCKED]);
      // A refused password is answered without waiting for the lock: the policy ran before any transaction began.
      const refusing = call('POST', '/v1/mailboxes', { json: { address: `dan@${LOCKED}`, display_name: 'Dan Smith', password: 'Smith-Dan-1985' } });
      const first = await Promise.race([refusing, lockWaiter()]);
      settled = true;
      expect(first, 'the refusal waited for the domain lock: the policy ran inside the transaction').not.toBe('waiting');
      expectProblem(first as Res, 422, 'policy_refused');
      // An accepted one still takes the lock (after hashing), and completes once it is free.
      settled = false;
      const creating = call('POST', '/v1/mailboxes', { json: { address: `erin@${LOCKED}`, password: PW } });
      expect(await lockWaiter()).toBe('waiting');
      await holder.query('ROLLBACK');
      const created = await creating;
      expect(created.status, created.text).toBe(201);
      expect((await verify(d, `erin@${LOCKED}`, PW)).body.result).toBe('ok');
    } finally {
      settled = true;
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
  });

  it('shows one mailbox and lists a domain (the control-panel list)', async () => {
    await seed('alice', 'bob');
    const shown = await call('GET', `/v1/mailboxes/ALICE@${EX}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ address: ALICE, display_name: 'Alice Martin', quota_bytes: null, disabled_reason: null, must_change: false });
    for (const k of ['password_changed_at', 'created_at', 'updated_at']) expect(Date.parse(shown.body[k])).not.toBeNaN();
    const list = await call('GET', `/v1/domains/${EX}/mailboxes`);
    expect(list.status).toBe(200);
    expect(list.body.map((m: { address: string }) => m.address)).toEqual([ALICE, BOB]);
    expect(list.text).not.toMatch(/argon2|password_hash/);
    const domains = await call('GET', '/v1/domains');
    expect(domains.body.find((x: { name: string }) => x.name === EX).mailbox_count).toBe(2);
  });

  it('404 for an unknown mailbox on every mailbox route, and for unknown routes', async () => {
    await seed();
    const ghost = `/v1/mailboxes/ghost@${EX}`;
    expectProblem(await call('GET', ghost), 404, 'mailbox_not_found');
    expectProblem(await call('PATCH', ghost, { json: { enabled: false } }), 404, 'mailbox_not_found');
    expectProblem(await call('DELETE', ghost), 404, 'mailbox_not_found');
    expectProblem(await call('POST', `${ghost}/rotate`, { json: { password: PW2 } }), 404, 'mailbox_not_found');
    expectProblem(await call('POST', `${ghost}/kick`), 404, 'mailbox_not_found');
    expectProblem(await call('GET', '/v1/nothing-here'), 404, 'route_not_found');
  });

  it('PATCH changes enabled, display_name and quota_bytes; disabling takes effect on the auth listener', async () => {
    await seed('alice');
    const alice = `/v1/mailboxes/${ALICE}`;
    const before = (await q('SELECT count(*)::int AS n FROM invalidations'))[0].n;
    const off = await call('PATCH', alice, { json: { enabled: false, disabled_reason: 'unpaid' } });
    expect(off.status, off.text).toBe(200);
    expect(off.body).toMatchObject({ enabled: false, disabled_reason: 'unpaid' });
    expect((await verify(d, ALICE, PW)).body).toMatchObject({ result: 'user_disabled', reason: 'unpaid' });
    expect((await q('SELECT count(*)::int AS n FROM invalidations'))[0].n).toBe(before + 1);

    const on = await call('PATCH', alice, { json: { enabled: true, display_name: 'Alice M. Martin', quota_bytes: 5_000_000_000 } });
    expect(on.status, on.text).toBe(200);
    expect(on.body).toMatchObject({ enabled: true, disabled_reason: null, display_name: 'Alice M. Martin', quota_bytes: 5_000_000_000 });
    expect((await verify(d, ALICE, PW)).body.result).toBe('ok');
    const cleared = await call('PATCH', alice, { json: { quota_bytes: null, display_name: 'Alice Martin' } });
    expect(cleared.body).toMatchObject({ quota_bytes: null, display_name: 'Alice Martin' });
    expect((await call('GET', alice)).body).toMatchObject({ quota_bytes: null, display_name: 'Alice Martin', enabled: true });

    expectProblem(await call('PATCH', alice, { json: {} }), 400, 'invalid_request');
    expectProblem(await call('PATCH', alice, { json: { enabled: 'false' } }), 400, 'invalid_request');
    expectProblem(await call('PATCH', alice, { json: { quota_bytes: -1 } }), 400, 'invalid_request');
    expectProblem(await call('PATCH', alice, { json: { password_hash: 'x' } }), 400, 'invalid_request');
    const actions = (await q('SELECT action FROM audit_log WHERE target = $1 ORDER BY id', [ALICE])).map((a) => a.action);
    expect(actions).toEqual(['mailbox.add', 'mailbox.disable', 'mailbox.enable', 'mailbox.update']);
  });
});

describe('rotation and kick', () => {
  it('rotates with a given password: new version, per-node result, old refused and new accepted', async () => {
    await seed('alice');
    const r = await call('POST', `/v1/mailboxes/${ALICE}/rotate`, { json: { password: PW2, wait_ms: 5000 } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ address: ALICE, credential_version: 2, complete: true });
    expect(r.body.invalidation_id).toMatch(/^\d+$/);
    expect(r.body).not.toHaveProperty('generated_password');
    expect(r.body.nodes).toEqual([{ node_id: 'admin-api-node', applied: true, stale: false }]);
    expect(r.text).not.toContain(PW2);
    expect((await verify(d, ALICE, PW)).body.result).toBe('password_mismatch');
    expect((await verify(d, ALICE, PW2)).body.result).toBe('ok');
    const [inv] = await q('SELECT address, reason, kick FROM invalidations WHERE id = $1', [r.body.invalidation_id]);
    expect(inv).toEqual({ address: ALICE, reason: 'rotate', kick: true });
    const [audit] = await q("SELECT actor, details FROM audit_log WHERE action = 'password.rotate' AND target = $1 ORDER BY id DESC LIMIT 1", [ALICE]);
    expect(audit.actor).toBe('token:root');
    expect(audit.details).toMatchObject({ credential_version: 2, generated: false, kick: true, invalidation_id: r.body.invalidation_id });
    expect(JSON.stringify(audit)).not.toMatch(/argon2|Velvet/);
  });

  it('rotates with generate: true and kick: false; the generated password is returned once and works', async () => {
    await seed('bob');
    const r = await call('POST', `/v1/mailboxes/${BOB}/rotate`, { json: { generate: true, kick: false } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.generated_password).toMatch(/^.{16,}$/);
    expect(r.body.credential_version).toBe(2);
    expect((await verify(d, BOB, r.body.generated_password)).body.result).toBe('ok');
    const [inv] = await q('SELECT kick FROM invalidations WHERE id = $1', [r.body.invalidation_id]);
    expect(inv.kick).toBe(false);
  });

  it('kick appends a kick invalidation and reports the nodes', async () => {
    await seed('alice');
    const r = await call('POST', `/v1/mailboxes/${ALICE}/kick`, { json: { wait_ms: 5000 } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ address: ALICE, complete: true, nodes: [{ node_id: 'admin-api-node', applied: true, stale: false }] });
    const [inv] = await q('SELECT reason, kick FROM invalidations WHERE id = $1', [r.body.invalidation_id]);
    expect(inv).toEqual({ reason: 'kick', kick: true });
    const noBody = await call('POST', `/v1/mailboxes/${ALICE}/kick`);
    expect(noBody.status, noBody.text).toBe(200);
    // Kicking changes no credential.
    expect((await q('SELECT credential_version FROM mailboxes WHERE address = $1', [ALICE]))[0].credential_version).toBe(1);
  });

  it('refuses a weak, personal password with 422 listing every failed rule, and changes nothing', async () => {
    await seed('alice');
    const before = await snapshot(ALICE);
    const bad = 'alice1990';
    const r = await call('POST', `/v1/mailboxes/${ALICE}/rotate`, { json: { password: bad } });
    expectProblem(r, 422, 'policy_refused');
    const codes = r.body.violations.map((v: { code: string }) => v.code).sort();
    // alice is both the local part and the display name's first name.
    expect(codes).toEqual(['contains_date', 'contains_local_part', 'contains_name', 'too_short', 'too_weak']);
    for (const v of r.body.violations) {
      expect(v.message).toEqual(expect.any(String));
      expect(r.body.detail).toContain(`[${v.code}]`);
    }
    expect(r.text).not.toContain(bad);
    expect(await snapshot(ALICE)).toEqual(before);
  });

  it('refuses reuse of a previous password (422 reused) and changes nothing', async () => {
    await seed('alice');
    // PW the previous password, PW2 the current one.
    expect((await call('POST', `/v1/mailboxes/${ALICE}/rotate`, { json: { password: PW2 } })).status).toBe(200);
    const before = await snapshot(ALICE);
    for (const old of [PW, PW2]) {
      const r = await call('POST', `/v1/mailboxes/${ALICE}/rotate`, { json: { password: old } });
      expectProblem(r, 422, 'policy_refused');
      expect(r.body.violations.map((v: { code: string }) => v.code)).toEqual(['reused']);
    }
    expect(await snapshot(ALICE)).toEqual(before);
    expect((await verify(d, ALICE, PW2)).body.result).toBe('ok');
  });

  it('refuses malformed rotate requests with 400 and changes nothing', async () => {
    await seed('alice');
    const before = await snapshot(ALICE);
    const path = `/v1/mailboxes/${ALICE}/rotate`;
    const fresh = 'Orbit-Lantern-Mosaic-73';
    expectProblem(await call('POST', path, { json: { password: fresh, generate: true } }), 400, 'password_conflict');
    expectProblem(await call('POST', path, { json: {} }), 400, 'password_missing');
    expectProblem(await call('POST', path, { json: { password: fresh, wait_ms: 120_001 } }), 400, 'invalid_request');
    expectProblem(await call('POST', path, { json: { password: fresh, wait_ms: -1 } }), 400, 'invalid_request');
    expectProblem(await call('POST', path, { json: { password: fresh, wait_ms: '100' } }), 400, 'invalid_request');
    expectProblem(await call('POST', path, { json: { password: fresh, wait_ms: 1.5 } }), 400, 'invalid_request');
    expectProblem(await call('POST', path, { json: { password: 12345678901234 } }), 400, 'invalid_request');
    expectProblem(await call('POST', path, { json: { password: fresh, kick: 'yes' } }), 400, 'invalid_request');
    expectProblem(await call('POST', path, { json: { password: fresh, force: true } }), 400, 'invalid_request');
    expectProblem(await call('POST', path, { json: [fresh] }), 400, 'invalid_request');
    expectProblem(await call('POST', path, { raw: `{"password": "${fresh}"` }), 400, 'invalid_json');
    expectProblem(await call('POST', path, { raw: '' }), 400, 'invalid_request');
    // Bytes that are not UTF-8 inside a JSON string.
    const latin1 = Buffer.concat([Buffer.from('{"password":"Orbit-Lantern-'), Buffer.from([0xe9, 0xff, 0xfe]), Buffer.from('-73"}')]);
    expectProblem(await call('POST', path, { raw: latin1 }), 400, 'invalid_utf8');
    // Over the 64 KiB body limit: refused before parsing (413 Payload Too Large).
    const huge = JSON.stringify({ password: 'x'.repeat(70 * 1024) });
    expectProblem(await call('POST', path, { raw: huge }), 413);
    expect(await snapshot(ALICE)).toEqual(before);
    expect((await verify(d, ALICE, fresh)).body.result).toBe('password_mismatch');
  });

  it('validates bodies on the other routes too (types, unknown fields, oversize, non-UTF-8)', async () => {
    await seed('alice');
    const eve = `eve@${EX}`;
    expectProblem(await call('POST', '/v1/domains', { json: { name: 42 } }), 400, 'invalid_request');
    expectProblem(await call('POST', '/v1/domains', { json: { name: 'x.example', enabled: false } }), 400, 'invalid_request');
    expectProblem(await call('POST', '/v1/mailboxes', { json: { address: eve, password: PW, admin: true } }), 400, 'invalid_request');
    expectProblem(await call('POST', '/v1/mailboxes', { json: { address: eve, generate: 'true' } }), 400, 'invalid_request');
    expectProblem(await call('POST', '/v1/mailboxes', { raw: Buffer.concat([Buffer.from(`{"address":"${eve}","display_name":"`), Buffer.from([0xc3, 0x28]), Buffer.from('","generate":true}')]) }), 400, 'invalid_utf8');
    expectProblem(await call('POST', '/v1/mailboxes', { raw: JSON.stringify({ address: eve, generate: true, display_name: 'é'.repeat(40_000) }) }), 413);
    expectProblem(await call('POST', `/v1/mailboxes/${ALICE}/kick`, { json: { wait_ms: 999_999 } }), 400, 'invalid_request');
    expect(await q('SELECT 1 FROM mailboxes WHERE address = $1', [eve])).toHaveLength(0);
    expect(await q('SELECT 1 FROM domains WHERE name = $1', ['x.example'])).toHaveLength(0);
  });
});

describe('domain-scoped tokens', () => {
  it('see their own domain only', async () => {
    await seed('alice', 'carol');
    const { token: scoped } = await scopedToken();
    const list = await call('GET', '/v1/domains', { token: scoped });
    expect(list.status).toBe(200);
    expect(list.body.map((x: { name: string }) => x.name)).toEqual([EX]);
    expect((await call('GET', `/v1/domains/${EX}/mailboxes`, { token: scoped })).status).toBe(200);
    expect((await call('GET', `/v1/mailboxes/${ALICE}`, { token: scoped })).status).toBe(200);
  });

  it('get 404 — the answer for a domain or mailbox that does not exist — for another domain, on every route', async () => {
    await seed('alice', 'carol');
    const { token: scoped } = await scopedToken();
    const other = await call('GET', `/v1/domains/${OTHER}/mailboxes`, { token: scoped });
    const missing = await call('GET', '/v1/domains/missing.example/mailboxes', { token: scoped });
    expectProblem(other, 404, 'domain_not_found');
    expectProblem(missing, 404, 'domain_not_found');
    expectProblem(await call('DELETE', `/v1/domains/${OTHER}`, { token: scoped }), 404, 'domain_not_found');

    const carol = `/v1/mailboxes/${CAROL}`;
    const ghost = await call('GET', `/v1/mailboxes/ghost@${OTHER}`, { token: scoped });
    expectProblem(ghost, 404, 'mailbox_not_found');
    const mallory = `mallory@${OTHER}`;
    const attempts: Res[] = [
      await call('GET', carol, { token: scoped }),
      await call('PATCH', carol, { token: scoped, json: { enabled: false } }),
      await call('DELETE', carol, { token: scoped }),
      await call('POST', `${carol}/rotate`, { token: scoped, json: { password: 'Orbit-Lantern-Mosaic-73' } }),
      await call('POST', `${carol}/kick`, { token: scoped }),
      await call('POST', '/v1/mailboxes', { token: scoped, json: { address: mallory, password: PW } }),
    ];
    for (const r of attempts) {
      expectProblem(r, 404, 'mailbox_not_found');
      expect(r.text).not.toMatch(/scope|limited|token/i);
    }
    // Nothing happened to carol, and nothing was created.
    const [row] = await q('SELECT enabled, credential_version FROM mailboxes WHERE address = $1', [CAROL]);
    expect(row).toEqual({ enabled: true, credential_version: 1 });
    expect(await q('SELECT 1 FROM mailboxes WHERE address = $1', [mallory])).toHaveLength(0);
    expect((await verify(d, CAROL, PW)).body.result).toBe('ok');
  });

  it('cannot create domains, but can manage mailboxes of their own domain', async () => {
    await seed('alice');
    const { token: scoped, name } = await scopedToken();
    const mine = `mine${seq}.example`;
    const r = await call('POST', '/v1/domains', { token: scoped, json: { name: mine } });
    expectProblem(r, 403, 'forbidden');
    expect(await q('SELECT 1 FROM domains WHERE name = $1', [mine])).toHaveLength(0);
    expectProblem(await call('DELETE', `/v1/domains/${EX}`, { token: scoped }), 403, 'forbidden');

    const frank = `frank@${EX}`;
    const created = await call('POST', '/v1/mailboxes', { token: scoped, json: { address: frank, generate: true } });
    expect(created.status, created.text).toBe(201);
    const rot = await call('POST', `/v1/mailboxes/${frank}/rotate`, { token: scoped, json: { generate: true } });
    expect(rot.status, rot.text).toBe(200);
    expect(rot.body.credential_version).toBe(2);
    const [audit] = await q("SELECT actor FROM audit_log WHERE target = $1 AND action = 'password.rotate'", [frank]);
    expect(audit.actor).toBe(`token:${name}`);
  });
});

describe('per-domain policy', () => {
  it('PUT /v1/domains/<d>/policy overrides the policy for that domain only; scoped tokens cannot', async () => {
    await seed('bob', 'carol');
    const { token: scoped } = await scopedToken();
    expectProblem(await call('PUT', `/v1/domains/${OTHER}/policy`, { token: scoped, json: { minLength: 30 } }), 404, 'domain_not_found');
    expectProblem(await call('PUT', `/v1/domains/${EX}/policy`, { token: scoped, json: { minLength: 30 } }), 403, 'forbidden');
    expectProblem(await call('PUT', `/v1/domains/${OTHER}/policy`, { json: { minLength: 'long' } }), 400, 'invalid_request');
    const set = await call('PUT', `/v1/domains/${OTHER}/policy`, { json: { minLength: 30 } });
    expect(set.status, set.text).toBe(200);
    expect(set.body.policy).toEqual({ minLength: 30 });
    const before = await snapshot(CAROL);
    const r = await call('POST', `/v1/mailboxes/${CAROL}/rotate`, { json: { password: 'Orbit-Lantern-Mosaic-73' } });
    expectProblem(r, 422, 'policy_refused');
    expect(r.body.violations.map((v: { code: string }) => v.code)).toEqual(['too_short']);
    expect(await snapshot(CAROL)).toEqual(before);
    // The same password is fine in a domain without the override.
    expect((await call('POST', `/v1/mailboxes/${BOB}/rotate`, { json: { password: 'Orbit-Lantern-Mosaic-73' } })).status).toBe(200);
    expect((await call('PUT', `/v1/domains/${OTHER}/policy`, { json: {} })).body.policy).toEqual({});
  });
});

describe('deletion', () => {
  it('DELETE removes the mailbox, its history, and fans out an invalidation; the password stops working', async () => {
    await seed('alice');
    const frank = `frank@${EX}`;
    const created = await call('POST', '/v1/mailboxes', { json: { address: frank, generate: true } });
    expect(created.status, created.text).toBe(201);
    expect((await call('POST', `/v1/mailboxes/${frank}/rotate`, { json: { generate: true } })).status).toBe(200);
    const [{ id }] = await q('SELECT id FROM mailboxes WHERE address = $1', [frank]);
    expect(await q('SELECT 1 FROM password_history WHERE mailbox_id = $1', [id])).not.toHaveLength(0);
    const r = await call('DELETE', `/v1/mailboxes/${frank}`);
    expect(r.status, r.text).toBe(204);
    expectProblem(await call('GET', `/v1/mailboxes/${frank}`), 404, 'mailbox_not_found');
    expect(await q('SELECT 1 FROM password_history WHERE mailbox_id = $1', [id])).toHaveLength(0);
    const [inv] = await q('SELECT reason FROM invalidations WHERE address = $1 ORDER BY id DESC LIMIT 1', [frank]);
    expect(inv.reason).toBe('deleted');
    expect((await verify(d, frank, 'anything-at-all')).body.result).toBe('user_unknown');
    expectProblem(await call('DELETE', `/v1/domains/${EX}`), 409, 'domain_not_empty');
  });
});

describe('API description and metrics', () => {
  it('/openapi.json is an OpenAPI 3 document listing every admin route, with resolvable references', async () => {
    const r = await call('GET', '/openapi.json', { token: null });
    expect(r.status).toBe(200);
    const doc = r.body;
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const expected: Record<string, string[]> = {
      '/v1/domains': ['get', 'post'],
      '/v1/domains/{domain}': ['delete'],
      '/v1/domains/{domain}/mailboxes': ['get'],
      '/v1/mailboxes': ['post'],
      '/v1/mailboxes/{address}': ['get', 'patch', 'delete'],
      '/v1/mailboxes/{address}/rotate': ['post'],
      '/v1/mailboxes/{address}/kick': ['post'],
      '/v1/self-service/password': ['post'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      expect(doc.paths, path).toHaveProperty([path]);
      for (const m of methods) {
        const op = doc.paths[path][m];
        expect(op, `${m} ${path}`).toBeDefined();
        expect(Object.keys(op.responses ?? {}).length, `${m} ${path} responses`).toBeGreaterThan(0);
        // Every {param} in the path is declared as a required path parameter.
        for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
          expect(op.parameters, `${m} ${path}`).toEqual(expect.arrayContaining([expect.objectContaining({ name, in: 'path', required: true })]));
        }
      }
    }
    // The self-service route needs no token; the others inherit the bearer requirement.
    expect(doc.paths['/v1/self-service/password'].post.security).toEqual([]);
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/v1/mailboxes/{address}/rotate'].post.responses).toHaveProperty('422');
    // Hidden operational routes stay out of the document.
    expect(doc.paths).not.toHaveProperty('/metrics');
    // Every local $ref resolves inside the document.
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);
    for (const ref of refs) {
      expect(ref, ref).toMatch(/^#\//);
      const target = ref
        .slice(2)
        .split('/')
        .reduce<any>((node, part) => node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
      expect(target, `unresolved ${ref}`).toBeDefined();
    }
  });

  it('/metrics is Prometheus text with mailpassd_rotations_total counting the rotations', async () => {
    await seed('alice');
    const rotations = async () => {
      const r = await call('GET', '/metrics', { token: null });
      expect(r.status).toBe(200);
      expect(r.type).toMatch(/^text\/plain/);
      expect(r.text).toMatch(/^# TYPE mailpassd_rotations_total counter$/m);
      expect(r.text).toMatch(/^mailpassd_invalidations_applied_total\{outcome="applied"\} \d+$/m);
      return Number(/^mailpassd_rotations_total\{reason="rotate"\} (\d+)$/m.exec(r.text)?.[1] ?? 0);
    };
    const before = await rotations();
    expect((await call('POST', `/v1/mailboxes/${ALICE}/rotate`, { json: { password: PW2 } })).status).toBe(200);
    // Refused attempts are not counted.
    expect((await call('POST', `/v1/mailboxes/${ALICE}/rotate`, { json: { password: 'alice1990' } })).status).toBe(422);
    expect(await rotations()).toBe(before + 1);
  });
});

describe('schema changes under a running daemon', () => {
  it('every admin route keeps answering after a migration adds columns to the tables it reads (no cached SELECT * plans)', async () => {
    // Its own database and daemon: columns are added to every table. Two pooled
    // connections, one held by the node worker for LISTEN, leave one for the routes:
    // every named statement runs again on the connection that prepared it.
    const own = await createTestDatabase();
    const ownPool = new pg.Pool({ connectionString: own.url, max: 1 });
    const daemon = await startTestDaemon({ databaseUrl: own.url, nodeId: 'schema-change-node', env: { MAILPASSD_DATABASE_POOL_SIZE: '2' } });
    try {
      const token = await adminToken(daemon, 'schema-root');
      const req = async (method: string, path: string, json?: unknown) => {
        const res = await fetch(`${daemon.adminUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
          signal: AbortSignal.timeout(20_000),
        });
        return { status: res.status, text: await res.text() };
      };
      /** Every statement a route prepares: domains, mailboxes, history, audit, tokens. */
      const exercise = async (n: number) => {
        const results = [
          await req('POST', '/v1/domains', { name: `d${n}.example` }),
          await req('GET', '/v1/domains'),
          await req('PUT', `/v1/domains/d${n}.example/policy`, { minLength: 14 }),
          await req('POST', '/v1/mailboxes', { address: `u@d${n}.example`, password: PW }),
          await req('GET', `/v1/mailboxes/u@d${n}.example`),
          await req('GET', `/v1/domains/d${n}.example/mailboxes`),
          await req('PATCH', `/v1/mailboxes/u@d${n}.example`, { display_name: 'Someone Else' }),
          await req('POST', `/v1/mailboxes/u@d${n}.example/rotate`, { password: PW2, wait_ms: 0 }),
        ];
        for (const r of results) expect(r.status, r.text).toBeLessThan(300);
      };
      await exercise(1);
      for (const table of ['domains', 'mailboxes', 'password_history', 'audit_log', 'admin_tokens']) {
        await ownPool.query(`ALTER TABLE ${table} ADD COLUMN added_later text`);
      }
      await exercise(2);
      const cli = await daemon.cli(['audit', '--json']);
      expect(cli.code, cli.stderr).toBe(0);
      expect(Object.keys(JSON.parse(cli.stdout)[0])).not.toContain('added_later'); // the documented shape, not whatever the table holds
    } finally {
      await daemon.stop();
      await ownPool.end();
      await own.drop();
    }
  }, 60_000);
});
