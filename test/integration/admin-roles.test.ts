/**
 * Console admin roles at the edges: the CLI (`mailpassd admin grant|revoke|list`,
 * the built binary) and the admin API (`/v1/admins`: writes need a global
 * token, a domain token lists its own domain's admins). Also the paged
 * `GET /v1/domains/<d>/mailboxes` and `mailbox list --domain`. Real
 * PostgreSQL, every `it` on domains of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { addDomain } from '../../src/accounts/domains.js';
import { createMailbox } from '../../src/accounts/mailboxes.js';
import { createToken } from '../../src/accounts/tokens.js';
import { hashPassword } from '../../src/auth/hash.js';
import type { App } from '../../src/http/server.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { inProcessAdmin, makeContext, type TestContext } from '../helpers/context.js';
import { runCli } from '../helpers/cli.js';

const actor = { actor: 'test', sourceIp: null };
const PW = 'Correct-Horse-Battery-9';
let db: { url: string; drop(): Promise<void> };
let ctx: TestContext;
let admin: App;
let global: string;

const q = async (text: string, values: unknown[] = []) => (await ctx.pool.query(text, values)).rows;
const cli = (args: string[]) => runCli(args, { env: { MAILPASSD_DATABASE_URL: db.url, MAILPASSD_HASH_MEMORY_COST: '4096', MAILPASSD_HASH_TIME_COST: '1' } });

async function call(method: InjectOptions['method'], url: string, json?: unknown, token: string = global) {
  const r = await admin.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}`, ...(json !== undefined && { 'content-type': 'application/json' }) },
    ...(json !== undefined && { payload: JSON.stringify(json) }),
  });
  return { status: r.statusCode, headers: r.headers, body: r.body ? (r.json() as any) : null, text: r.body };
}

async function domainWith(domain: string, locals: string[]): Promise<string[]> {
  await addDomain(ctx, actor, domain);
  const addresses = locals.map((l) => `${l}@${domain}`);
  for (const address of addresses) await createMailbox(ctx, actor, { address, displayName: null, password: { kind: 'given', value: PW } });
  return addresses;
}

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await makeContext(db.url, { MAILPASSD_LOG_LEVEL: 'silent' });
  ({ admin } = await inProcessAdmin(ctx));
  global = (await createToken(ctx, actor, 'root', null)).token;
});

afterAll(async () => {
  await admin?.close();
  await ctx?.close();
  await db?.drop();
});

describe('mailpassd admin (CLI)', () => {
  it('grant --global / --domain, list (table and --json, --domain), revoke a role, then --all; exit statuses per CONTRACT', async () => {
    const [alice, bob] = await domainWith('cli-a.example', ['alice', 'bob']);
    await addDomain(ctx, actor, 'cli-b.example');

    let r = await cli(['admin', 'grant', alice!, '--global']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${alice} is now global admin`);
    r = await cli(['admin', 'grant', bob!, '--domain', 'cli-b.example', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ address: bob, role: 'domain', domain: 'cli-b.example', granted_by: expect.stringMatching(/^cli:/) });
    await cli(['admin', 'grant', bob!, '--domain', 'cli-a.example']);

    // Refused: already granted (1), unknown mailbox (1), neither or both flags (64).
    expect((await cli(['admin', 'grant', alice!, '--global'])).code).toBe(1);
    expect((await cli(['admin', 'grant', 'nobody@cli-a.example', '--global'])).code).toBe(1);
    const neither = await cli(['admin', 'grant', alice!]);
    expect(neither.code).toBe(64);
    expect(neither.stderr).toMatch(/--global or --domain/);
    expect((await cli(['admin', 'grant', alice!, '--global', '--domain', 'cli-a.example'])).code).toBe(64);

    r = await cli(['admin', 'list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).map((g: any) => [g.address, g.role, g.domain])).toEqual([
      [alice, 'global', null],
      [bob, 'domain', 'cli-a.example'],
      [bob, 'domain', 'cli-b.example'],
    ]);
    r = await cli(['admin', 'list', '--domain', 'cli-b.example']);
    expect(r.stdout.split('\n')[0]).toMatch(/^ADDRESS\s+ROLE\s+DOMAIN\s+GRANTED_AT\s+GRANTED_BY/);
    expect(r.stdout).toContain(bob!);
    expect(r.stdout).not.toContain(alice!);

    r = await cli(['admin', 'revoke', bob!, '--domain', 'cli-b.example']);
    expect(r.code, r.stderr).toBe(0);
    const again = await cli(['admin', 'revoke', bob!, '--domain', 'cli-b.example']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not admin of cli-b.example; nothing revoked/);
    r = await cli(['admin', 'revoke', alice!, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ address: alice, removed: 1 });
    expect((await q("SELECT action, target FROM audit_log WHERE action LIKE 'admin.%' AND target = $1 ORDER BY id", [alice])).map((a) => a.action)).toEqual(['admin.grant', 'admin.revoke']);
  }, 120_000);

  it('explains itself in --help', async () => {
    const r = await cli(['admin', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/grant.*revoke|revoke[\s\S]*list/);
    const grant = await cli(['admin', 'grant', '--help']);
    expect(grant.stdout).toContain('--global');
    expect(grant.stdout).toContain('--domain <domain>');
  });
});

describe('/v1/admins', () => {
  it('a global token grants, lists and revokes; a domain token lists its own domain\'s admins and may not write', async () => {
    const [carol, dave] = await domainWith('api-a.example', ['carol', 'dave']);
    const [erin] = await domainWith('api-b.example', ['erin']);
    const scoped = (await createToken(ctx, actor, 'api-a-admin', 'api-a.example')).token;

    let r = await call('POST', '/v1/admins', { address: carol, domain: 'api-a.example' });
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({ address: carol, role: 'domain', domain: 'api-a.example', granted_by: 'token:root' });
    expect((await call('POST', '/v1/admins', { address: erin, domain: 'api-b.example' })).status).toBe(201);
    expect((await call('POST', '/v1/admins', { address: dave, global: true })).status).toBe(201);
    expect((await call('POST', '/v1/admins', { address: dave, global: true })).body.code).toBe('admin_exists');
    expect((await call('POST', '/v1/admins', { address: dave })).body.code).toBe('invalid_admin_role');
    expect((await call('POST', '/v1/admins', { address: dave, global: true, domain: 'api-a.example' })).status).toBe(400);
    expect((await call('POST', '/v1/admins', { address: dave, domain: 'nowhere.example' })).status).toBe(404);

    const mine = await call('GET', '/v1/admins', undefined, scoped);
    expect(mine.status).toBe(200);
    expect(mine.body.map((g: any) => g.address)).toEqual([carol]);
    expect((await call('GET', '/v1/admins?domain=api-b.example', undefined, scoped)).status).toBe(404);
    const all = await call('GET', '/v1/admins');
    expect(all.body.filter((g: any) => g.address.includes('@api-')).map((g: any) => [g.address, g.role])).toEqual([
      [carol, 'domain'],
      [dave, 'global'],
      [erin, 'domain'],
    ]);
    expect((await call('GET', '/v1/admins?domain=api-b.example')).body.map((g: any) => g.address)).toEqual([erin]);

    for (const [method, url, body] of [
      ['POST', '/v1/admins', { address: dave, domain: 'api-a.example' }],
      ['DELETE', `/v1/admins/${carol}?domain=api-a.example`, undefined],
    ] as const) {
      const refused = await call(method, url, body, scoped);
      expect(refused.status, `${method} ${url}`).toBe(403);
    }

    r = await call('DELETE', `/v1/admins/${carol}?domain=api-a.example`);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ address: carol, removed: 1 });
    expect((await call('DELETE', `/v1/admins/${carol}?domain=api-a.example`)).body.code).toBe('admin_not_found');
    expect((await call('DELETE', `/v1/admins/${dave}?global=true`)).body).toEqual({ address: dave, removed: 1 });
    expect((await call('DELETE', `/v1/admins/${erin}`)).body).toEqual({ address: erin, removed: 1 });
    expect((await call('GET', '/v1/admins')).body.filter((g: any) => g.address.includes('@api-'))).toEqual([]);
  });

  it('is described in the OpenAPI document under its own tag', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/admins', '/v1/admins/{address}']));
    expect(doc.paths['/v1/admins'].post.tags).toEqual(['admins']);
  });
});

describe('paging a domain\'s mailboxes', () => {
  it('GET /v1/domains/<d>/mailboxes: still an array; limit (default 100, at most 1000), cursor and q; the way on in Link and X-Next-Cursor', async () => {
    await addDomain(ctx, actor, 'paged.example');
    const hash = await hashPassword(PW, ctx.config.hash);
    await q(
      `INSERT INTO mailboxes (address, domain, display_name, password_hash)
       SELECT format('m%s@paged.example', lpad(i::text, 3, '0')), 'paged.example', CASE WHEN i <= 3 THEN 'Kees de Boer' END, $1 FROM generate_series(1, 130) i`,
      [hash],
    );
    const first = await call('GET', '/v1/domains/paged.example/mailboxes');
    expect(first.status).toBe(200);
    expect(Array.isArray(first.body)).toBe(true);
    expect(first.body).toHaveLength(100);
    expect(first.headers['x-total-count']).toBe('130');
    expect(first.headers['x-next-cursor']).toBe('m100@paged.example');
    expect(first.headers.link).toBe('</v1/domains/paged.example/mailboxes?limit=100&cursor=m100%40paged.example>; rel="next"');
    const second = await call('GET', first.headers.link!.toString().slice(1, first.headers.link!.toString().indexOf('>')));
    expect(second.body.map((m: any) => m.address)).toEqual(Array.from({ length: 30 }, (_, i) => `m${101 + i}@paged.example`));
    expect(second.headers['x-next-cursor']).toBeUndefined();
    expect(second.headers.link).toBeUndefined();

    const found = await call('GET', '/v1/domains/paged.example/mailboxes?q=boer&limit=2');
    expect(found.body.map((m: any) => m.address)).toEqual(['m001@paged.example', 'm002@paged.example']);
    expect(found.headers['x-total-count']).toBe('3');
    expect(found.headers.link).toBe('</v1/domains/paged.example/mailboxes?limit=2&cursor=m002%40paged.example&q=boer>; rel="next"');
    expect((await call('GET', '/v1/domains/paged.example/mailboxes?limit=1001')).status).toBe(400);
    expect((await call('GET', '/v1/domains/paged.example/mailboxes?limit=0')).status).toBe(400);

    // The CLI reads the domain a page at a time and prints it all, in order.
    const r = await cli(['mailbox', 'list', '--domain', 'paged.example', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).map((m: any) => m.address)).toEqual(Array.from({ length: 130 }, (_, i) => `m${String(i + 1).padStart(3, '0')}@paged.example`));
    const table = await cli(['mailbox', 'list', '--domain', 'paged.example']);
    expect(table.stdout.trim().split('\n')).toHaveLength(131);
    const empty = await cli(['mailbox', 'list', '--domain', 'api-b.example', '--json']);
    expect(JSON.parse(empty.stdout)).toEqual([expect.objectContaining({ address: 'erin@api-b.example' })]);
  }, 60_000);
});
