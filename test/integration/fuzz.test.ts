import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/auth/verify.js';
import { buildAuthListener } from '../../src/http/auth-listener.js';
import { buildAdminListener } from '../../src/http/admin-listener.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { addDomain } from '../../src/accounts/domains.js';
import { createMailbox } from '../../src/accounts/mailboxes.js';
import { createToken } from '../../src/accounts/tokens.js';
import type { App } from '../../src/http/server.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { makeContext, type TestContext } from '../helpers/context.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

/**
 * Hostile input, generated: over 100,000 requests across both listeners. Expect no
 * 5xx other than 503, no crash, and the data unchanged afterwards.
 */
const actor = { actor: 'fuzz-setup', sourceIp: null };
let db: { url: string; drop(): Promise<void> };
let ctx: TestContext;
let auth: App;
let admin: App;
let token: string;

const ALLOWED = new Set([200, 204, 400, 401, 403, 404, 405, 406, 413, 414, 415, 422, 429, 503]);

async function snapshot(): Promise<string> {
  const r = await ctx.pool.query(`SELECT md5(string_agg(t, '|' ORDER BY t)) AS h FROM (
      SELECT 'd' || row(d.*)::text AS t FROM domains d
      UNION ALL SELECT 'm' || row(m.*)::text FROM mailboxes m
      UNION ALL SELECT 'h' || row(h.*)::text FROM password_history h
      UNION ALL SELECT 'a' || row(a.*)::text FROM audit_log a
      UNION ALL SELECT 'i' || row(i.*)::text FROM invalidations i
      UNION ALL SELECT 't' || row(k.id, k.name, k.revoked_at)::text FROM admin_tokens k) x`);
  return r.rows[0].h as string;
}

beforeAll(async () => {
  db = await createTestDatabase();
  // Low per-IP limits keep most well-formed guesses away from argon2, so 100k requests stay fast.
  ctx = await makeContext(db.url, { MAILPASSD_AUTH_MAX_FAILURES_PER_IP: '50', MAILPASSD_AUTH_MAX_FAILURES_PER_USER_IP: '5', MAILPASSD_LOG_LEVEL: 'silent' });
  ctx.log.level = 'silent';
  const metrics = createMetrics();
  const authenticator = new Authenticator(ctx, metrics);
  await authenticator.init();
  auth = buildAuthListener(ctx, authenticator);
  admin = buildAdminListener(ctx, { metrics, authenticator });
  await Promise.all([auth.ready(), admin.ready()]);
  await addDomain(ctx, actor, 'example.org');
  await createMailbox(ctx, actor, { address: 'alice@example.org', displayName: 'Alice', password: { kind: 'given', value: 'Correct-Horse-Battery-9' } });
  token = (await createToken(ctx, actor, 'fuzz', null)).token;
});
afterAll(async () => {
  await auth?.close();
  await admin?.close();
  await ctx?.close();
  await db?.drop();
});

const lookalikes = fc.constantFrom('аlice@example.org', 'alice@exаmple.org', 'ALICE@EXAMPLE.ORG', 'alice@example.org.', 'alice@xn--exmple-cua.org', 'alice\u200b@example.org', 'ａｌｉｃｅ@example.org');
const sqlish = fc.constantFrom("' OR 1=1 --", "alice@example.org'; DROP TABLE mailboxes; --", '"; SELECT pg_sleep(10); --', '%27%20OR%201%3D1', '\\x00', '$1');
const pathTricks = fc.constantFrom('../../etc/passwd', '..%2f..%2fetc%2fpasswd', '%2e%2e/admin', 'alice%00@example.org', '%', '%zz', '//', 'a/b/c', '%E0%A4%A', '~root');
const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), lookalikes, sqlish, pathTricks, fc.constant('a'.repeat(5000)));
const deep = fc.integer({ min: 1, max: 2000 }).map((n) => '['.repeat(n) + ']'.repeat(n));
const jsonish = fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom('user', 'password', 'service', 'remote_ip', 'session', 'address', 'name', 'generate', 'wait_ms', 'curpass', 'newpass', 'x'), fc.oneof(text, fc.jsonValue())));
const body = fc.oneof(
  jsonish.map((v) => JSON.stringify(v)),
  deep,
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  text,
  fc.constant(Buffer.from([0x7b, 0x22, 0x75, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
  fc.constant('x'.repeat(70_000)),
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD');
const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded', 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', '', 'application/json; charset=latin1');
const segment = fc.oneof(text, lookalikes, sqlish, pathTricks).map((s) => (Math.random() < 0.5 ? encodeURIComponent(s) : s.replace(/[\s?#]/g, '')));

const authPath = fc.oneof(fc.constant('/v1/passdb/verify'), segment.map((s) => `/v1/userdb/${s}`), fc.constantFrom('/healthz', '/readyz', '/v1/passdb', '/', '/v2/passdb/verify'));
const adminPath = fc.oneof(
  fc.constantFrom('/v1/domains', '/v1/mailboxes', '/openapi.json', '/metrics', '/v1/self-service/password', '/healthz'),
  segment.map((s) => `/v1/mailboxes/${s}`),
  segment.map((s) => `/v1/mailboxes/${s}/rotate`),
  segment.map((s) => `/v1/domains/${s}/mailboxes`),
  segment.map((s) => `/v1/domains/${s}`),
);

async function send(app: App, m: string, url: string, ct: string, payload: string | Buffer, headers: Record<string, string>) {
  const r = await app.inject({ method: m as 'GET', url, payload: m === 'GET' || m === 'HEAD' ? undefined : payload, headers: { ...(ct ? { 'content-type': ct } : {}), ...headers } });
  if (!ALLOWED.has(r.statusCode)) throw new Error(`${m} ${url.slice(0, 200)} → ${r.statusCode}: ${r.body.slice(0, 300)}`);
}

describe('fuzzing both listeners', () => {
  it('auth listener: 50,000 generated requests', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(method, authPath, contentType, body, fc.constantFrom('', 'Bearer x', 'Basic YTpi', 'Bearer ' + 'a'.repeat(500)), async (m, url, ct, payload, authz) => {
        await send(auth, m, url, ct, payload, authz ? { authorization: authz } : {});
      }),
      { numRuns: 50_000 },
    );
    expect(await snapshot()).toBe(before);
  }, 600_000);

  it('admin listener: 50,000 generated requests, with junk tokens, a revoked-looking token, and a valid token on read-only or invalid requests', async () => {
    const before = await snapshot();
    const junk = fc.oneof(fc.constant(''), fc.string().map((s) => `Bearer ${s}`), fc.constant(`Bearer mpd_${'A'.repeat(43)}`), fc.constant(`bearer ${token}`));
    await fc.assert(
      fc.asyncProperty(method, adminPath, contentType, body, junk, async (m, url, ct, payload, authz) => {
        await send(admin, m, url, ct, payload, authz ? { authorization: authz } : {});
      }),
      { numRuns: 40_000 },
    );
    // With a valid token: reads anywhere, writes only with a field no schema accepts (so nothing may change).
    await fc.assert(
      fc.asyncProperty(adminPath, fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'POST', 'PATCH'), jsonish, async (url, m, v) => {
        const payload = JSON.stringify(typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...v, __fuzz__: true } : v);
        await send(admin, m, url, 'application/json', payload, { authorization: `Bearer ${token}` });
      }),
      { numRuns: 10_000 },
    );
    expect(await snapshot()).toBe(before);
  }, 600_000);
});

describe('raw protocol abuse against a running daemon', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await startTestDaemon({ databaseUrl: db.url });
  });
  afterAll(async () => d?.stop());

  const rawRequests = fc.oneof(
    fc.string().map((s) => `${s}\r\n\r\n`),
    fc.constantFrom(
      'GET / HTTP/9.9\r\n\r\n',
      'POST /v1/passdb/verify HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'POST /v1/passdb/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /v1/passdb/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n',
      `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\nb: c\r\n\r\n',
      'BREW /v1/passdb/verify HTCPCP/1.0\r\n\r\n',
      '\x00\x01\x02\x03\r\n\r\n',
      'GET /v1/userdb/%00 HTTP/1.1\r\nHost: x\r\n\r\n',
    ),
  );

  function rawExchange(port: number, payload: string): Promise<string> {
    return new Promise((resolve) => {
      let out = '';
      const s = connect({ host: '127.0.0.1', port }, () => s.end(payload));
      s.setTimeout(3000, () => s.destroy());
      s.on('data', (b: Buffer) => (out += b.toString('latin1')));
      s.on('close', () => resolve(out));
      s.on('error', () => resolve(out));
    });
  }

  it('2,000 malformed HTTP exchanges: never a 500, and both listeners still answer', async () => {
    const ports = [Number(d.authListen.split(':')[1]), Number(new URL(d.adminUrl).port)];
    await fc.assert(
      fc.asyncProperty(rawRequests, fc.constantFrom(...ports), async (req, port) => {
        const answer = await rawExchange(port, req);
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1];
        if (status && Number(status) >= 500 && Number(status) !== 503) throw new Error(`${status} for ${JSON.stringify(req.slice(0, 80))}`);
      }),
      { numRuns: 2_000 },
    );
    expect((await fetch(`${d.authUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${d.adminUrl}/healthz`)).status).toBe(200);
  }, 300_000);
});
