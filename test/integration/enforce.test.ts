/**
 * Every field of the schema is enforced or gone (issue 11): a disabled domain
 * refuses its mailboxes' logins, `must_change` refuses a login as an expired
 * password until the password is changed, token `scopes` no longer exists.
 * Through the real auth listener and admin listener (inject), the built CLI,
 * a real PostgreSQL and real argon2. Every `it` works on mailboxes (and
 * domains) of its own.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { Authenticator } from '../../src/auth/verify.js';
import { buildAuthListener } from '../../src/http/auth-listener.js';
import { buildAdminListener } from '../../src/http/admin-listener.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { addDomain, setDomainEnabled } from '../../src/accounts/domains.js';
import { createMailbox, updateMailbox } from '../../src/accounts/mailboxes.js';
import { createToken } from '../../src/accounts/tokens.js';
import { rotatePassword } from '../../src/rotation/rotate.js';
import type { App } from '../../src/http/server.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { makeContext, type TestContext } from '../helpers/context.js';
import { runCli } from '../helpers/cli.js';

const actor = { actor: 'test', sourceIp: null };
const PW = 'Correct-Horse-Battery-9';
const NEW_PW = 'Glacier-Orbit-Pumice-47-Lantern';
let db: { url: string; drop(): Promise<void> };
let ctx: TestContext;
let auth: Authenticator;
let authApp: App;
let admin: App;
let global: string;
let scoped: string; // limited to scoped.example

const q = async (text: string, values: unknown[] = []) => (await ctx.pool.query(text, values)).rows;

async function verify(user: string, password: string) {
  const r = await authApp.inject({ method: 'POST', url: '/v1/passdb/verify', payload: { user, password, service: 'imap', remote_ip: '192.0.2.7' } });
  return r.json() as { result: string; reason?: string; user?: string };
}

async function call(method: InjectOptions['method'], url: string, json?: unknown, token: string = global) {
  const r = await admin.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}`, ...(json !== undefined && { 'content-type': 'application/json' }) },
    ...(json !== undefined && { payload: JSON.stringify(json) }),
  });
  return { status: r.statusCode, body: r.json() as any, text: r.body };
}

/** A domain of its own with these mailboxes, all with password PW. */
async function domainWith(domain: string, locals: string[]): Promise<string[]> {
  await addDomain(ctx, actor, domain);
  const addresses = locals.map((l) => `${l}@${domain}`);
  for (const address of addresses) await createMailbox(ctx, actor, { address, displayName: null, password: { kind: 'given', value: PW } });
  return addresses;
}

const invalidationsOf = (addresses: string[]) =>
  q('SELECT id::bigint AS id, address, reason, kick FROM invalidations WHERE address = ANY($1) ORDER BY id', [addresses]) as Promise<Array<{ id: string; address: string; reason: string; kick: boolean }>>;

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await makeContext(db.url, { MAILPASSD_LOG_LEVEL: 'silent', MAILPASSD_ROTATION_STALE_AFTER_MS: '600000' });
  const metrics = createMetrics();
  auth = new Authenticator(ctx, metrics);
  await auth.init();
  authApp = buildAuthListener(ctx, auth);
  admin = buildAdminListener(ctx, { metrics, authenticator: auth });
  await Promise.all([authApp.ready(), admin.ready()]);
  await addDomain(ctx, actor, 'scoped.example');
  global = (await createToken(ctx, actor, 'root', null)).token;
  scoped = (await createToken(ctx, actor, 'scoped-admin', 'scoped.example')).token;
});

afterAll(async () => {
  await authApp?.close();
  await admin?.close();
  await ctx?.close();
  await db?.drop();
});

beforeEach(() => {
  auth.throttle.sweep(Number.MAX_SAFE_INTEGER);
});

describe('a disabled domain refuses the logins of its mailboxes', () => {
  it('user_disabled for the right password only, with the domain as the reason; other domains unaffected; enabled again → ok', async () => {
    const [alice] = await domainWith('shut.example', ['alice']);
    const [dave] = await domainWith('open.example', ['dave']);
    expect((await verify(alice!, PW)).result).toBe('ok'); // also puts it in the memo

    await setDomainEnabled(ctx, actor, 'shut.example', false);
    expect(await verify(alice!, PW)).toEqual({ result: 'user_disabled', reason: 'domain shut.example disabled' });
    expect(await verify(alice!, 'Not-The-Password-1')).toEqual({ result: 'password_mismatch' });
    expect(await verify('nobody@shut.example', PW)).toEqual({ result: 'user_unknown' });
    expect((await verify(dave!, PW)).result).toBe('ok');

    await setDomainEnabled(ctx, actor, 'shut.example', false, 'unpaid invoice');
    expect(await verify(alice!, PW)).toEqual({ result: 'user_disabled', reason: 'unpaid invoice' });

    await setDomainEnabled(ctx, actor, 'shut.example', true);
    expect(await verify(alice!, PW)).toMatchObject({ result: 'ok', user: alice });
  });

  it("leaves the mailboxes' own state alone: a disabled mailbox stays disabled, with its own reason, when the domain is enabled again", async () => {
    const [erin, frank] = await domainWith('state.example', ['erin', 'frank']);
    await updateMailbox(ctx, actor, frank!, { enabled: false, disabledReason: 'left the company' });
    await setDomainEnabled(ctx, actor, 'state.example', false);
    expect(await verify(frank!, PW)).toEqual({ result: 'user_disabled', reason: 'left the company' });
    await setDomainEnabled(ctx, actor, 'state.example', true);
    expect((await verify(erin!, PW)).result).toBe('ok');
    expect(await verify(frank!, PW)).toEqual({ result: 'user_disabled', reason: 'left the company' });
  });

  it('disabling appends a flush + kick for every mailbox in the same transaction, consecutive ids; disabling again or enabling appends none; audited', async () => {
    const addresses = await domainWith('fan.example', ['a', 'b', 'c']);
    const [other] = await domainWith('bystander.example', ['z']);
    const r = await setDomainEnabled(ctx, actor, 'fan.example', false, 'moved away');
    expect(r.invalidated).toBe(3);
    const rows = await invalidationsOf([...addresses, other!]);
    expect(rows.map(({ address, reason, kick }) => ({ address, reason, kick }))).toEqual(addresses.map((address) => ({ address, reason: 'domain_disabled', kick: true })));
    const ids = rows.map((x) => Number(x.id));
    expect(ids).toEqual([ids[0], ids[0]! + 1, ids[0]! + 2]);
    expect(r.invalidationId).toBe(String(ids[2]));

    expect((await setDomainEnabled(ctx, actor, 'fan.example', false)).invalidated).toBe(0);
    expect((await setDomainEnabled(ctx, actor, 'fan.example', true)).invalidated).toBe(0);
    expect(await invalidationsOf(addresses)).toHaveLength(3);
    expect(await q("SELECT action, details FROM audit_log WHERE target = 'fan.example' AND action LIKE 'domain.%able' ORDER BY id")).toEqual([
      { action: 'domain.disable', details: { reason: 'moved away' } },
      { action: 'domain.disable', details: {} },
      { action: 'domain.enable', details: {} },
    ]);
  });

  it('self-service refuses the current password of a mailbox in a disabled domain, as for a disabled mailbox', async () => {
    const [gina] = await domainWith('selfshut.example', ['gina']);
    await setDomainEnabled(ctx, actor, 'selfshut.example', false);
    const r = await admin.inject({ method: 'POST', url: '/v1/self-service/password', payload: { user: gina, curpass: PW, newpass: NEW_PW } });
    expect(r.statusCode, r.body).toBe(403);
    expect(r.json()).toMatchObject({ code: 'wrong_current_password' });
    expect(await q('SELECT credential_version FROM mailboxes WHERE address = $1', [gina])).toEqual([{ credential_version: 1 }]);
  });

  it('a domain disabled after self-service checked the current password wins: the change is refused (credential_changed)', async () => {
    const [hal] = await domainWith('race.example', ['hal']);
    const [{ id }] = await q('SELECT id::text FROM mailboxes WHERE address = $1', [hal]);
    await setDomainEnabled(ctx, actor, 'race.example', false);
    // What self-service does after its check: bound to the row and version it verified.
    await expect(
      rotatePassword(ctx, { actor: `self:${hal}`, sourceIp: null }, { address: hal!, password: { kind: 'given', value: NEW_PW }, kick: true, reason: 'self_service', expected: { mailboxId: id, version: 1 } }),
    ).rejects.toMatchObject({ code: 'credential_changed' });
    expect(await q('SELECT credential_version FROM mailboxes WHERE address = $1', [hal])).toEqual([{ credential_version: 1 }]);
  });

  it('a mailbox deleted and re-created after self-service checked the current password is not the one verified: credential_changed', async () => {
    const [ida] = await domainWith('recreate.example', ['ida']);
    const [{ id }] = await q('SELECT id::text FROM mailboxes WHERE address = $1', [ida]);
    // Same address, same version (1), another row: its owner may be someone else now.
    await q('DELETE FROM mailboxes WHERE address = $1', [ida]);
    await createMailbox(ctx, actor, { address: ida!, displayName: null, password: { kind: 'given', value: PW } });
    await expect(
      rotatePassword(ctx, { actor: `self:${ida}`, sourceIp: null }, { address: ida!, password: { kind: 'given', value: NEW_PW }, kick: true, reason: 'self_service', expected: { mailboxId: id, version: 1 } }),
    ).rejects.toMatchObject({ code: 'credential_changed' });
    expect(await q('SELECT credential_version FROM mailboxes WHERE address = $1', [ida])).toEqual([{ credential_version: 1 }]);
  });
});

describe('must_change refuses logins as an expired password until the password changes', () => {
  it('pass_expired for the right password (even one the memo knows), mismatch for a wrong one; a rotation clears it → ok', async () => {
    const [ivan] = await domainWith('must.example', ['ivan']);
    expect((await verify(ivan!, PW)).result).toBe('ok');
    const view = await updateMailbox(ctx, actor, ivan!, { mustChange: true });
    expect(view.must_change).toBe(true);
    expect(await verify(ivan!, PW)).toEqual({ result: 'pass_expired' });
    expect(await verify(ivan!, 'Not-The-Password-1')).toEqual({ result: 'password_mismatch' });

    await rotatePassword(ctx, actor, { address: ivan!, password: { kind: 'given', value: NEW_PW }, kick: true, reason: 'rotate' });
    expect(await q('SELECT must_change FROM mailboxes WHERE address = $1', [ivan])).toEqual([{ must_change: false }]);
    expect(await verify(ivan!, NEW_PW)).toMatchObject({ result: 'ok', user: ivan });
  });

  it("setting it appends a flush without a kick (Dovecot's cache would keep accepting the password); setting it again or clearing it appends none", async () => {
    const [judy] = await domainWith('mustflush.example', ['judy']);
    await updateMailbox(ctx, actor, judy!, { mustChange: true });
    await updateMailbox(ctx, actor, judy!, { mustChange: true });
    await updateMailbox(ctx, actor, judy!, { mustChange: false });
    expect((await invalidationsOf([judy!])).map(({ reason, kick }) => ({ reason, kick }))).toEqual([{ reason: 'must_change', kick: false }]);
    expect((await verify(judy!, PW)).result).toBe('ok');
  });

  it('self-service takes the password as the current one to choose a new one, which clears must_change', async () => {
    const [karl] = await domainWith('mustself.example', ['karl']);
    await updateMailbox(ctx, actor, karl!, { mustChange: true });
    const r = await admin.inject({ method: 'POST', url: '/v1/self-service/password', payload: { user: karl, curpass: PW, newpass: NEW_PW } });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.body).toBe('ok');
    expect(await q('SELECT must_change FROM mailboxes WHERE address = $1', [karl])).toEqual([{ must_change: false }]);
    expect((await verify(karl!, NEW_PW)).result).toBe('ok');
    expect((await verify(karl!, PW)).result).toBe('password_mismatch');
  });

  it('PATCH /v1/mailboxes/<a> {must_change: true} is enforced at once', async () => {
    const [lena] = await domainWith('mustpatch.example', ['lena']);
    const r = await call('PATCH', `/v1/mailboxes/${lena}`, { must_change: true });
    expect(r.status, r.text).toBe(200);
    expect(r.body.must_change).toBe(true);
    expect(await verify(lena!, PW)).toEqual({ result: 'pass_expired' });
  });
});

describe('PATCH /v1/domains/<domain>', () => {
  it('a global token disables (with a reason) and enables a domain; the answer says how many mailboxes were flushed and kicked', async () => {
    const [mia] = await domainWith('api.example', ['mia', 'ned']);
    const off = await call('PATCH', '/v1/domains/API.example', { enabled: false, reason: 'maintenance' });
    expect(off.status, off.text).toBe(200);
    expect(off.body).toMatchObject({ name: 'api.example', enabled: false, disabled_reason: 'maintenance', mailbox_count: 2, invalidated: 2 });
    expect(await verify(mia!, PW)).toEqual({ result: 'user_disabled', reason: 'maintenance' });
    expect((await call('GET', '/v1/domains')).body.find((d: { name: string }) => d.name === 'api.example')).toMatchObject({ enabled: false, disabled_reason: 'maintenance' });
    expect(await q("SELECT actor, action FROM audit_log WHERE target = 'api.example' AND action = 'domain.disable'")).toEqual([{ actor: 'token:root', action: 'domain.disable' }]);

    const on = await call('PATCH', '/v1/domains/api.example', { enabled: true });
    expect(on.status, on.text).toBe(200);
    expect(on.body).toMatchObject({ name: 'api.example', enabled: true, disabled_reason: null, invalidated: 0 });
    expect((await verify(mia!, PW)).result).toBe('ok');
  });

  it('is in the API description, with its body schema', async () => {
    const doc = (await admin.inject({ method: 'GET', url: '/openapi.json' })).json() as any;
    const op = doc.paths['/v1/domains/{domain}'].patch;
    expect(op).toBeDefined();
    // Any of its fields, at least one (the notices settings share the route).
    expect(op.requestBody.content['application/json'].schema).toMatchObject({ minProperties: 1, additionalProperties: false, properties: { enabled: { type: 'boolean' }, notices: { type: 'boolean' } } });
  });

  it('a domain-scoped token may not: 403 for its own domain, 404 for another; nothing changes', async () => {
    await domainWith('others.example', []);
    const own = await call('PATCH', '/v1/domains/scoped.example', { enabled: false }, scoped);
    expect(own.status, own.text).toBe(403);
    expect(own.body).toMatchObject({ code: 'forbidden' });
    const other = await call('PATCH', '/v1/domains/others.example', { enabled: false }, scoped);
    expect(other.status, other.text).toBe(404);
    expect(other.body).toMatchObject({ code: 'domain_not_found' });
    expect(await q("SELECT name, enabled FROM domains WHERE name IN ('scoped.example', 'others.example') ORDER BY name")).toEqual([
      { name: 'others.example', enabled: true },
      { name: 'scoped.example', enabled: true },
    ]);
  });

  it('refuses an empty body, unknown fields, a wrong type or a control character in the reason (400), and an unknown domain (404)', async () => {
    await domainWith('strict.example', []);
    for (const body of [{}, { enabled: 'no' }, { enabled: false, colour: 'red' }, { enabled: false, reason: 'a\nb' }]) {
      const r = await call('PATCH', '/v1/domains/strict.example', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect((await call('PATCH', '/v1/domains/missing.example', { enabled: false })).body).toMatchObject({ status: 404, code: 'domain_not_found' });
    expect(await q("SELECT enabled FROM domains WHERE name = 'strict.example'")).toEqual([{ enabled: true }]);
  });
});

describe('CLI', () => {
  const cli = (args: string[]) => runCli(args, { env: { MAILPASSD_DATABASE_URL: db.url, MAILPASSD_HASH_MEMORY_COST: '4096', MAILPASSD_HASH_TIME_COST: '1' } });

  it('domain disable [--reason] / enable, shown by domain list; an unknown domain exits 1', async () => {
    const [olga] = await domainWith('cli.example', ['olga']);
    const off = await cli(['domain', 'disable', 'cli.example', '--reason', 'contract ended']);
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toBe('domain cli.example disabled; 1 mailbox(es) flushed and kicked on every node\n');
    expect(await verify(olga!, PW)).toEqual({ result: 'user_disabled', reason: 'contract ended' });

    const list = JSON.parse((await cli(['domain', 'list', '--json'])).stdout) as Array<{ name: string; enabled: boolean; disabled_reason: string | null }>;
    expect(list.find((d) => d.name === 'cli.example')).toMatchObject({ enabled: false, disabled_reason: 'contract ended' });
    const table = (await cli(['domain', 'list'])).stdout.split('\n');
    expect(table[0]).toMatch(/^NAME\s+ENABLED\s+MAILBOXES\s+CREATED_AT\s+DISABLED_REASON$/);
    expect(table.find((l) => l.startsWith('cli.example '))).toMatch(/^cli\.example\s+false\s+1\s+\S+\s+contract ended$/);

    const on = await cli(['domain', 'enable', 'cli.example', '--json']);
    expect(on.code, on.stderr).toBe(0);
    expect(JSON.parse(on.stdout)).toMatchObject({ name: 'cli.example', enabled: true, disabled_reason: null });
    expect((await verify(olga!, PW)).result).toBe('ok');

    const missing = await cli(['domain', 'disable', 'missing.example']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/domain missing\.example does not exist/);
  });

  it('mailbox must-change sets the demand, --clear withdraws it; mailbox show says which', async () => {
    const [pia] = await domainWith('climust.example', ['pia']);
    const set = await cli(['mailbox', 'must-change', pia!]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe(`mailbox ${pia} must change its password before the next login\n`);
    expect(await verify(pia!, PW)).toEqual({ result: 'pass_expired' });
    expect((await cli(['mailbox', 'show', pia!])).stdout).toMatch(/^must_change\s+true$/m);

    const clear = await cli(['mailbox', 'must-change', pia!, '--clear', '--json']);
    expect(clear.code, clear.stderr).toBe(0);
    expect(JSON.parse(clear.stdout)).toMatchObject({ address: pia, must_change: false });
    expect((await verify(pia!, PW)).result).toBe('ok');
  });

  it('tokens have no scopes: the column is gone and token list does not show one', async () => {
    expect(await q("SELECT column_name FROM information_schema.columns WHERE table_name = 'admin_tokens' AND column_name = 'scopes'")).toEqual([]);
    const list = JSON.parse((await cli(['token', 'list', '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(list.length).toBeGreaterThan(0);
    for (const t of list) expect(t).not.toHaveProperty('scopes');
  });
});
