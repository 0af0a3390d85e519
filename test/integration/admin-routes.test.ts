/**
 * The admin routes driven in process with `app.inject()`: no daemon, no socket,
 * a real PostgreSQL. What needs a process (listening, shutdown, the auth listener
 * seeing a change) stays in admin-api.test.ts and its neighbours.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { Authenticator } from '../../src/auth/verify.js';
import { buildAdminListener } from '../../src/http/admin-listener.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { addDomain } from '../../src/accounts/domains.js';
import { createMailbox } from '../../src/accounts/mailboxes.js';
import { createToken, revokeToken } from '../../src/accounts/tokens.js';
import { registerNode, recordNodeError } from '../../src/store/sql/nodes.js';
import { MAX_PASSWORD_BYTES, POLICY_RANGES } from '../../src/core/policy-limits.js';
import { parsePolicyOverrides } from '../../src/policy/settings.js';
import type { App } from '../../src/http/server.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { makeContext, type TestContext } from '../helpers/context.js';

const setup = { actor: 'test-setup', sourceIp: null };
// A doveadm error as a node records it: it names hosts, paths and other domains' users.
const NODE_ERROR = 'doveadm: connect(/run/dovecot/auth-master) failed: Permission denied (user bob@other.example)';

let db: { url: string; drop(): Promise<void> };
const apps: App[] = [];
const contexts: TestContext[] = [];
let ctx: TestContext;
let admin: App;
let global: string; // may do anything
let scoped: string; // limited to example.org

/** An admin listener on its own context; env as the daemon would read it. */
async function listener(env: Record<string, string> = {}): Promise<{ ctx: TestContext; app: App }> {
  const c = await makeContext(db.url, { MAILPASSD_LOG_LEVEL: 'silent', MAILPASSD_ROTATION_STALE_AFTER_MS: '600000', ...env });
  contexts.push(c);
  const metrics = createMetrics();
  const authenticator = new Authenticator(c, metrics);
  await authenticator.init();
  const app = buildAdminListener(c, { metrics, authenticator });
  apps.push(app);
  await app.ready();
  return { ctx: c, app };
}

interface Res {
  status: number;
  type: string;
  text: string;
  body: any;
}

async function call(method: InjectOptions['method'], url: string, opts: { token?: string | null; json?: unknown; app?: App; headers?: Record<string, string> } = {}): Promise<Res> {
  const token = opts.token === undefined ? global : opts.token;
  const headers: Record<string, string> = { ...opts.headers };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  const r = await (opts.app ?? admin).inject({ method, url, headers, ...(opts.json !== undefined && { payload: JSON.stringify(opts.json) }) });
  let body: unknown = null;
  try {
    body = JSON.parse(r.body);
  } catch {
    /* not JSON */
  }
  return { status: r.statusCode, type: String(r.headers['content-type'] ?? ''), text: r.body, body };
}

function expectProblem(r: Res, status: number, code: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.type).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ type: `urn:mailpassd:error:${code}`, status, code, detail: expect.any(String) });
}

const q = async (text: string, values: unknown[] = []) => (await ctx.pool.query(text, values)).rows;

beforeAll(async () => {
  db = await createTestDatabase();
  ({ ctx, app: admin } = await listener());
  await addDomain(ctx, setup, 'example.org');
  await addDomain(ctx, setup, 'other.org');
  await createMailbox(ctx, setup, { address: 'alice@example.org', displayName: null, password: { kind: 'generate' } });
  await createMailbox(ctx, setup, { address: 'carol@other.org', displayName: null, password: { kind: 'generate' } });
  global = (await createToken(ctx, setup, 'root', null)).token;
  scoped = (await createToken(ctx, setup, 'example-only', 'example.org')).token;
});

afterAll(async () => {
  for (const app of apps) await app.close();
  for (const c of contexts) await c.close();
  await db?.drop();
});

describe('the authenticated scope', () => {
  it('answers 401, one body, for a missing, malformed, unknown or revoked token', async () => {
    const revoked = (await createToken(ctx, setup, 'to-revoke', null)).token;
    expect((await call('GET', '/v1/domains', { token: revoked })).status).toBe(200);
    await revokeToken(ctx, setup, 'to-revoke');

    const bodies = new Set<string>();
    const variants: Array<Record<string, string>> = [{}, { authorization: 'Bearer' }, { authorization: `bearer ${global}` }, { authorization: `Bearer ${global}x` }, { authorization: `Bearer mpd_${'A'.repeat(43)}` }, { authorization: `Bearer ${revoked}` }];
    for (const headers of variants) {
      const r = await call('GET', '/v1/domains', { token: null, headers });
      expectProblem(r, 401, 'unauthorized');
      bodies.add(r.text);
    }
    expect([...bodies]).toHaveLength(1);
  });

  it('checks the token before anything else: writes, unknown routes and bad bodies all get the 401', async () => {
    const unauthorized = (await call('GET', '/v1/domains', { token: null })).text;
    expect((await call('POST', '/v1/domains', { token: null, json: { name: 'x.example' } })).text).toBe(unauthorized);
    expect((await call('PUT', '/v1/domains/example.org/policy', { token: null, json: { colour: 'red' } })).text).toBe(unauthorized);
    expect((await call('GET', '/v1/nothing-here', { token: null })).text).toBe(unauthorized);
    expect(await q('SELECT 1 FROM domains WHERE name = $1', ['x.example'])).toHaveLength(0);
    // With a valid token, an unknown route is a plain 404.
    expectProblem(await call('GET', '/v1/nothing-here'), 404, 'route_not_found');
  });

  it('records the token as the actor of what it changes', async () => {
    const r = await call('POST', '/v1/domains', { json: { name: 'audited.example' } });
    expect(r.status, r.text).toBe(201);
    expect(await q("SELECT actor, source_ip FROM audit_log WHERE action = 'domain.add' AND target = 'audited.example'")).toEqual([{ actor: 'token:root', source_ip: '127.0.0.1' }]);
  });

  it('leaves probes and self-service outside: no token needed', async () => {
    expect((await call('GET', '/healthz', { token: null })).status).toBe(200);
    expect((await call('GET', '/readyz', { token: null })).status).toBe(200);
    expect((await call('GET', '/metrics', { token: null })).status).toBe(200);
    expect((await call('GET', '/openapi.json', { token: null })).status).toBe(200);
    // Reaches the route's own validation, not the token check.
    expectProblem(await call('POST', '/v1/self-service/password', { token: null, json: {} }), 400, 'invalid_request');
    // A wrong method on an open path is an unknown route, but not one behind the token.
    expectProblem(await call('GET', '/v1/self-service/password', { token: null }), 404, 'route_not_found');
    expectProblem(await call('DELETE', '/healthz', { token: null }), 404, 'route_not_found');
  });

  it('takes metrics and the API description in when configured; metrics stay global-only', async () => {
    const { app } = await listener({ MAILPASSD_ADMIN_METRICS_REQUIRE_TOKEN: 'true', MAILPASSD_ADMIN_OPENAPI_REQUIRE_TOKEN: 'true' });
    expectProblem(await call('GET', '/metrics', { app, token: null }), 401, 'unauthorized');
    expectProblem(await call('GET', '/metrics', { app, token: scoped }), 403, 'forbidden');
    expect((await call('GET', '/metrics', { app })).text).toMatch(/^# HELP mailpassd_/m);
    expectProblem(await call('GET', '/openapi.json', { app, token: null }), 401, 'unauthorized');
    expect((await call('GET', '/openapi.json', { app, token: scoped })).body.openapi).toMatch(/^3\./);
    expect((await call('GET', '/healthz', { app, token: null })).status).toBe(200);
  });
});

describe('a domain-scoped token', () => {
  it('lists its own domain only', async () => {
    const r = await call('GET', '/v1/domains', { token: scoped });
    expect(r.body.map((d: { name: string }) => d.name)).toEqual(['example.org']);
    expect((await call('GET', '/v1/mailboxes/alice@example.org', { token: scoped })).status).toBe(200);
  });

  it('gets 404 for another domain on every route, as if it did not exist', async () => {
    for (const [method, url, json] of [
      ['GET', '/v1/domains/other.org/mailboxes'],
      ['DELETE', '/v1/domains/other.org'],
      ['PUT', '/v1/domains/other.org/policy', { minLength: 20 }],
    ] as const) {
      expectProblem(await call(method, url, { token: scoped, json }), 404, 'domain_not_found');
    }
    for (const [method, url, json] of [
      ['GET', '/v1/mailboxes/carol@other.org'],
      ['PATCH', '/v1/mailboxes/carol@other.org', { enabled: false }],
      ['DELETE', '/v1/mailboxes/carol@other.org'],
      ['POST', '/v1/mailboxes/carol@other.org/rotate', { generate: true }],
      ['POST', '/v1/mailboxes/carol@other.org/kick'],
      ['POST', '/v1/mailboxes', { address: 'mallory@other.org', generate: true }],
    ] as const) {
      expectProblem(await call(method, url, { token: scoped, json }), 404, 'mailbox_not_found');
    }
    expect(await q('SELECT enabled, credential_version FROM mailboxes WHERE address = $1', ['carol@other.org'])).toEqual([{ enabled: true, credential_version: 1 }]);
    expect(await q("SELECT policy FROM domains WHERE name = 'other.org'")).toEqual([{ policy: {} }]);
  });

  it('gets 403 for what only a global token may do in its own domain', async () => {
    expectProblem(await call('POST', '/v1/domains', { token: scoped, json: { name: 'mine.example' } }), 403, 'forbidden');
    expectProblem(await call('PUT', '/v1/domains/example.org/policy', { token: scoped, json: { minLength: 20 } }), 403, 'forbidden');
    expectProblem(await call('DELETE', '/v1/domains/example.org', { token: scoped }), 403, 'forbidden');
  });
});

describe('per-node error text in rotate and kick answers', () => {
  beforeAll(async () => {
    // A live node that has not applied anything since it failed: every answer lists it, unapplied, with its error.
    await registerNode(ctx.pool, 'node-broken', 'imap1.internal', 'local');
    await recordNodeError(ctx.pool, 'node-broken', NODE_ERROR);
  });

  const broken = (r: Res) => (r.body.nodes as Array<Record<string, unknown>>).find((n) => n.node_id === 'node-broken');

  it('goes to global tokens', async () => {
    const rot = await call('POST', '/v1/mailboxes/alice@example.org/rotate', { json: { generate: true, wait_ms: 0, kick: false } });
    expect(rot.status, rot.text).toBe(200);
    expect(broken(rot)).toEqual({ node_id: 'node-broken', applied: false, stale: false, error: NODE_ERROR });
    const kick = await call('POST', '/v1/mailboxes/alice@example.org/kick', { json: { wait_ms: 0 } });
    expect(kick.status, kick.text).toBe(200);
    expect(broken(kick)).toEqual({ node_id: 'node-broken', applied: false, stale: false, error: NODE_ERROR });
  });

  it('is withheld from a domain-scoped token, as GET /v1/nodes withholds last_error', async () => {
    const rot = await call('POST', '/v1/mailboxes/alice@example.org/rotate', { token: scoped, json: { generate: true, wait_ms: 0, kick: false } });
    expect(rot.status, rot.text).toBe(200);
    expect(broken(rot)).toEqual({ node_id: 'node-broken', applied: false, stale: false });
    expect(rot.text).not.toContain('auth-master');
    const kick = await call('POST', '/v1/mailboxes/alice@example.org/kick', { token: scoped, json: { wait_ms: 0 } });
    expect(kick.status, kick.text).toBe(200);
    expect(broken(kick)).toEqual({ node_id: 'node-broken', applied: false, stale: false });
    expect(kick.text).not.toContain('auth-master');
    const nodes = await call('GET', '/v1/nodes', { token: scoped });
    expect(nodes.text).not.toContain('auth-master');
  });
});

describe('one password length limit', () => {
  // MAX_PASSWORD_BYTES counts UTF-8 bytes; a body schema can only count characters, and
  // a password of more characters than that many bytes is too long in any encoding.
  const tooManyChars = 'x'.repeat(MAX_PASSWORD_BYTES + 1);
  const tooManyBytes = 'é'.repeat(MAX_PASSWORD_BYTES / 2 + 1); // fewer characters than the limit

  it('refuses a longer password at creation: 400 by the schema, 422 password_too_long by its bytes', async () => {
    const create = (password: string) => call('POST', '/v1/mailboxes', { json: { address: 'long@example.org', password } });
    expectProblem(await create(tooManyChars), 400, 'invalid_request');
    expectProblem(await create(tooManyBytes), 422, 'password_too_long');
    expect(await q("SELECT 1 FROM mailboxes WHERE address = 'long@example.org'")).toHaveLength(0);
  });

  it('refuses a longer password on rotate the same way, and the body schemas all say the one limit', async () => {
    const rotate = (password: string) => call('POST', '/v1/mailboxes/alice@example.org/rotate', { json: { password, wait_ms: 0 } });
    const before = await q("SELECT credential_version FROM mailboxes WHERE address = 'alice@example.org'");
    expectProblem(await rotate(tooManyChars), 400, 'invalid_request');
    expectProblem(await rotate(tooManyBytes), 422, 'password_too_long');
    expect(await q("SELECT credential_version FROM mailboxes WHERE address = 'alice@example.org'")).toEqual(before);
    const doc = JSON.stringify((await call('GET', '/openapi.json', { token: null })).body);
    const limits = [...doc.matchAll(/"(?:password|curpass|newpass)":\{[^{}]*"maxLength":(\d+)/g)].map((m) => Number(m[1]));
    expect(limits.length).toBeGreaterThanOrEqual(4);
    expect(new Set(limits)).toEqual(new Set([MAX_PASSWORD_BYTES]));
  });
});

describe('PUT /v1/domains/<d>/policy', () => {
  // A domain of its own: the other tests' mailboxes keep the global policy.
  beforeAll(() => addDomain(ctx, setup, 'policy.example'));
  const put = (json: unknown) => call('PUT', '/v1/domains/policy.example/policy', { json });
  const stored = async () => (await q("SELECT policy FROM domains WHERE name = 'policy.example'"))[0].policy;

  it('refuses an unknown field with 400 naming it, and stores nothing', async () => {
    const before = await stored();
    const r = await put({ minLength: 14, minLenght: 20 });
    expectProblem(r, 400, 'invalid_request');
    expect(r.body.detail).toContain('"minLenght"');
    expect(await stored()).toEqual(before);
  });

  it.each(Object.entries(POLICY_RANGES))('refuses %s out of its range with 400 naming it', async (key, { min, max }) => {
    const before = await stored();
    for (const value of [min - 1, max + 1, min + 0.5, String(min), true]) {
      const r = await put({ [key]: value });
      expectProblem(r, 400, 'invalid_request');
      expect(r.body.detail, JSON.stringify(value)).toContain(`/${key}`);
    }
    expect(await stored()).toEqual(before);
  });

  it('accepts exactly what the override parser accepts: both ends of each range, null where allowed', async () => {
    for (const [key, { min, max, nullable }] of Object.entries(POLICY_RANGES)) {
      for (const value of [min - 1, min, max, max + 1, null]) {
        let parsed = true;
        try {
          parsePolicyOverrides({ [key]: value });
        } catch {
          parsed = false;
        }
        const r = await put({ [key]: value });
        expect(r.status, `${key}: ${value} → ${r.text}`).toBe(parsed ? 200 : 400);
        if (parsed) expect(r.body.policy).toEqual({ [key]: value });
      }
      expect(nullable).toBe(key === 'maxAgeDays');
    }
    expect((await put({})).body.policy).toEqual({});
  });
});
