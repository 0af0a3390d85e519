/**
 * The web console's data layer (issue 12, CONSOLE.md "Data interface"), on a
 * real PostgreSQL with real argon2 and zxcvbn: console sessions and their
 * timeouts (time is moved by rewriting the rows, never by sleeping), sessions
 * ended by password changes and disables, admin roles, the domain-scoped
 * summaries and audit pages, paged mailbox listings, the live password check,
 * and per-node progress of a rotation. Every `it` works on domains of its own.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantAdmin, listAdmins, reachableDomains, revokeAdmin, rolesOf } from '../../src/accounts/admins.js';
import { listAuditPage } from '../../src/accounts/audit.js';
import { createSession, endSession, findSession } from '../../src/accounts/console-sessions.js';
import { addDomain, listDomainSummaryPage, removeDomain, setDomainEnabled, setDomainPolicy } from '../../src/accounts/domains.js';
import { createMailbox, deleteMailbox, findMailbox, listMailboxPage, updateMailbox } from '../../src/accounts/mailboxes.js';
import { checkCandidate, checkNewCandidate } from '../../src/accounts/password.js';
import { createToken } from '../../src/accounts/tokens.js';
import { hashPassword } from '../../src/auth/hash.js';
import { rotatePassword } from '../../src/rotation/rotate.js';
import { rotateAndWait } from '../../src/rotation/service.js';
import { startNodeWorker } from '../../src/rotation/node-worker.js';
import type { NodeOutcome } from '../../src/rotation/wait.js';
import { pruneConsoleSessions } from '../../src/store/sql/console-sessions.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { makeContext, type TestContext } from '../helpers/context.js';

const actor = { actor: 'test', sourceIp: null };
const PW = 'Correct-Horse-Battery-9';
const IDLE_MINUTES = 5;
const ABSOLUTE_HOURS = 2;
let db: { url: string; drop(): Promise<void> };
let ctx: TestContext;

const q = async <T = any>(text: string, values: unknown[] = []): Promise<T[]> => (await ctx.pool.query(text, values)).rows as T[];
const meta = { ip: '192.0.2.10', userAgent: 'test-browser' };

async function domainWith(domain: string, locals: string[], displayName: string | null = null): Promise<string[]> {
  await addDomain(ctx, actor, domain);
  const addresses = locals.map((l) => `${l}@${domain}`);
  for (const address of addresses) await createMailbox(ctx, actor, { address, displayName, password: { kind: 'given', value: PW } });
  return addresses;
}

async function sessionFor(address: string) {
  return createSession(ctx, (await findMailbox(ctx, address)).id, meta);
}

/** Moves a session's clock: `column` set to now() minus the interval. */
const age = (id: string, column: 'last_seen_at' | 'created_at' | 'expires_at', interval: string) =>
  q(`UPDATE console_sessions SET ${column} = now() - $2::interval WHERE id = $1`, [id, interval]);

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await makeContext(db.url, {
    MAILPASSD_LOG_LEVEL: 'debug',
    MAILPASSD_CONSOLE_IDLE_TIMEOUT_MINUTES: String(IDLE_MINUTES),
    MAILPASSD_CONSOLE_ABSOLUTE_TIMEOUT_HOURS: String(ABSOLUTE_HOURS),
    MAILPASSD_ROTATION_STALE_AFTER_MS: '600000',
  });
});

afterAll(async () => {
  await ctx?.close();
  await db?.drop();
});

describe('console sessions', () => {
  it('a new session is found by its token; only the token\'s SHA-256 is stored; a signed-out or malformed token finds nothing', async () => {
    const [alice] = await domainWith('sess.example', ['alice'], 'Alice Martin');
    const { token, session } = await sessionFor(alice!);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session).toMatchObject({ address: alice, displayName: 'Alice Martin', roles: [], csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(session.expiresAt.getTime() - session.createdAt.getTime()).toBe(ABSOLUTE_HOURS * 3_600_000);
    const found = await findSession(ctx, token);
    expect(found).toMatchObject({ id: session.id, mailboxId: session.mailboxId, csrfToken: session.csrfToken });
    const [row] = await q<{ token_sha256: Buffer; ip: string; user_agent: string }>('SELECT token_sha256, ip, user_agent FROM console_sessions WHERE id = $1', [session.id]);
    expect(row!.token_sha256.equals(createHash('sha256').update(token).digest())).toBe(true);
    expect(row).toMatchObject({ ip: meta.ip, user_agent: meta.userAgent });
    const dump = JSON.stringify(await q('SELECT * FROM console_sessions'));
    expect(dump).not.toContain(token);

    expect(await findSession(ctx, 'not-a-token')).toBeNull();
    expect(await findSession(ctx, token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).toBeNull();
    await endSession(ctx, token);
    expect(await findSession(ctx, token)).toBeNull();
    await endSession(ctx, token); // twice: no error
  });

  it('ends after console.idle_timeout_minutes unused; last_seen is touched at most once a minute', async () => {
    const [bob] = await domainWith('idle.example', ['bob']);
    const { token, session } = await sessionFor(bob!);

    await age(session.id, 'last_seen_at', '30 seconds');
    const [before] = await q<{ last_seen_at: Date }>('SELECT last_seen_at FROM console_sessions WHERE id = $1', [session.id]);
    expect(await findSession(ctx, token)).not.toBeNull();
    const [untouched] = await q<{ last_seen_at: Date }>('SELECT last_seen_at FROM console_sessions WHERE id = $1', [session.id]);
    expect(untouched!.last_seen_at).toEqual(before!.last_seen_at);

    await age(session.id, 'last_seen_at', `${IDLE_MINUTES - 1} minutes`);
    const found = await findSession(ctx, token);
    expect(found).not.toBeNull();
    const [touched] = await q<{ recent: boolean }>("SELECT last_seen_at > now() - interval '10 seconds' AS recent FROM console_sessions WHERE id = $1", [session.id]);
    expect(touched!.recent).toBe(true);
    expect(Date.now() - found!.lastSeenAt.getTime()).toBeLessThan(60_000);

    await age(session.id, 'last_seen_at', `${IDLE_MINUTES} minutes 1 second`);
    expect(await findSession(ctx, token)).toBeNull();
  });

  it('ends console.absolute_timeout_hours after sign-in however busy (also when the timeout was shortened since)', async () => {
    const [carol] = await domainWith('absolute.example', ['carol']);
    const a = await sessionFor(carol!);
    await age(a.session.id, 'expires_at', '1 second');
    expect(await findSession(ctx, a.token)).toBeNull();
    // Opened under a longer setting: expires_at is far off, but it is older than the timeout now configured.
    const b = await sessionFor(carol!);
    await q("UPDATE console_sessions SET created_at = now() - $2::interval, expires_at = now() + interval '1 day' WHERE id = $1", [b.session.id, `${ABSOLUTE_HOURS} hours 1 second`]);
    expect(await findSession(ctx, b.token)).toBeNull();
  });

  it('a disabled or deleted mailbox, or a disabled domain, has no session', async () => {
    const [dan, erin, fay] = await domainWith('state.example', ['dan', 'erin', 'fay']);
    const d = await sessionFor(dan!);
    const e = await sessionFor(erin!);
    const f = await sessionFor(fay!);
    await updateMailbox(ctx, actor, dan!, { enabled: false });
    expect(await findSession(ctx, d.token)).toBeNull();
    await updateMailbox(ctx, actor, dan!, { enabled: true });
    expect(await findSession(ctx, d.token)).toBeNull(); // ended, not suspended
    await deleteMailbox(ctx, actor, erin!);
    expect(await findSession(ctx, e.token)).toBeNull();
    expect(await findSession(ctx, f.token)).not.toBeNull();
    await setDomainEnabled(ctx, actor, 'state.example', false);
    expect(await findSession(ctx, f.token)).toBeNull();
    await setDomainEnabled(ctx, actor, 'state.example', true);
    expect(await findSession(ctx, f.token)).toBeNull();
  });

  it('the prune removes expired sessions and keeps live ones', async () => {
    const [gus] = await domainWith('prune.example', ['gus']);
    const live = await sessionFor(gus!);
    const idle = await sessionFor(gus!);
    const old = await sessionFor(gus!);
    await age(idle.session.id, 'last_seen_at', `${IDLE_MINUTES + 1} minutes`);
    await age(old.session.id, 'expires_at', '1 minute');
    expect(await pruneConsoleSessions(ctx.pool, IDLE_MINUTES, ABSOLUTE_HOURS)).toBeGreaterThanOrEqual(2);
    const left = (await q<{ id: string }>('SELECT id FROM console_sessions WHERE mailbox_id = $1', [live.session.mailboxId])).map((r) => r.id);
    expect(left).toEqual([live.session.id]);
  });
});

describe('a password change ends the console sessions of the mailbox', () => {
  it('every session but the one named in keepConsoleSession; the next change without it ends that one too; other mailboxes keep theirs', async () => {
    const [hal, ida] = await domainWith('change.example', ['hal', 'ida']);
    const [s1, s2, s3] = [await sessionFor(hal!), await sessionFor(hal!), await sessionFor(hal!)];
    const other = await sessionFor(ida!);
    await rotatePassword(ctx, actor, { address: hal!, password: { kind: 'given', value: 'Quiet-Lantern-Harbor-58' }, kick: true, reason: 'self_service', keepConsoleSession: s2.session.id });
    expect(await findSession(ctx, s1.token)).toBeNull();
    expect(await findSession(ctx, s2.token)).not.toBeNull();
    expect(await findSession(ctx, s3.token)).toBeNull();
    expect(await findSession(ctx, other.token)).not.toBeNull();
    const [audit] = await q("SELECT details FROM audit_log WHERE action = 'password.self_service' AND target = $1 ORDER BY id DESC LIMIT 1", [hal]);
    expect(audit.details.console_sessions_ended).toBe(2);

    await rotatePassword(ctx, actor, { address: hal!, password: { kind: 'generate' }, kick: true, reason: 'rotate' });
    expect(await findSession(ctx, s2.token)).toBeNull();
    expect(await findSession(ctx, other.token)).not.toBeNull();
  });

  it('a refused change ends nothing', async () => {
    const [jan] = await domainWith('refused.example', ['jan']);
    const s = await sessionFor(jan!);
    await expect(rotatePassword(ctx, actor, { address: jan!, password: { kind: 'given', value: 'short' }, kick: true, reason: 'rotate' })).rejects.toMatchObject({ code: 'policy_refused' });
    expect(await findSession(ctx, s.token)).not.toBeNull();
  });
});

describe('admin roles', () => {
  it('grant, list, roles of a mailbox and the domains they reach; refusals; revoke; audited; a session sees a revoke at once', async () => {
    const [kim, lou] = await domainWith('roles-a.example', ['kim', 'lou']);
    await addDomain(ctx, actor, 'roles-b.example');
    const kimId = (await findMailbox(ctx, kim!)).id;
    const session = await sessionFor(kim!);

    expect(await grantAdmin(ctx, actor, kim!, { kind: 'domain', domain: 'ROLES-B.example' })).toMatchObject({ address: kim, role: { kind: 'domain', domain: 'roles-b.example' }, granted_by: 'test' });
    await grantAdmin(ctx, actor, kim!, { kind: 'domain', domain: 'roles-a.example' });
    await grantAdmin(ctx, actor, lou!, { kind: 'global' });
    await expect(grantAdmin(ctx, actor, kim!, { kind: 'domain', domain: 'roles-a.example' })).rejects.toMatchObject({ code: 'admin_exists' });
    await expect(grantAdmin(ctx, actor, lou!, { kind: 'global' })).rejects.toMatchObject({ code: 'admin_exists' });
    await expect(grantAdmin(ctx, actor, kim!, { kind: 'domain', domain: 'nowhere.example' })).rejects.toMatchObject({ code: 'domain_not_found' });
    await expect(grantAdmin(ctx, actor, 'nobody@roles-a.example', { kind: 'global' })).rejects.toMatchObject({ code: 'mailbox_not_found' });

    const roles = await rolesOf(ctx, kimId);
    expect(roles).toEqual([{ kind: 'domain', domain: 'roles-a.example' }, { kind: 'domain', domain: 'roles-b.example' }]);
    expect(reachableDomains(roles)).toEqual(['roles-a.example', 'roles-b.example']);
    expect(reachableDomains([...roles, { kind: 'global' }])).toBeNull();
    expect(reachableDomains([])).toEqual([]);
    expect((await findSession(ctx, session.token))!.roles).toEqual(roles);
    expect((await listAdmins(ctx, 'roles-a.example')).map((g) => g.address)).toEqual([kim]);
    expect((await listAdmins(ctx)).filter((g) => g.address.endsWith('@roles-a.example')).map((g) => [g.address, g.role])).toEqual([
      [kim, { kind: 'domain', domain: 'roles-a.example' }],
      [kim, { kind: 'domain', domain: 'roles-b.example' }],
      [lou, { kind: 'global' }],
    ]);

    expect(await revokeAdmin(ctx, actor, kim!, { kind: 'domain', domain: 'roles-b.example' })).toBe(1);
    expect(await revokeAdmin(ctx, actor, kim!, { kind: 'domain', domain: 'roles-b.example' })).toBe(0);
    expect((await findSession(ctx, session.token))!.roles).toEqual([{ kind: 'domain', domain: 'roles-a.example' }]);
    expect(await revokeAdmin(ctx, actor, lou!, 'all')).toBe(1);
    const audit = await q("SELECT action, target, details FROM audit_log WHERE action LIKE 'admin.%' AND target = ANY($1) ORDER BY id", [[kim, lou]]);
    expect(audit.map((a) => [a.action, a.target, a.details])).toEqual([
      ['admin.grant', kim, { role: 'roles-b.example' }],
      ['admin.grant', kim, { role: 'roles-a.example' }],
      ['admin.grant', lou, { role: 'global' }],
      ['admin.revoke', kim, { roles: ['roles-b.example'] }],
      ['admin.revoke', lou, { roles: ['global'] }],
    ]);
  });

  it('a role goes with its mailbox or its domain', async () => {
    const [max] = await domainWith('roles-c.example', ['max']);
    await addDomain(ctx, actor, 'roles-d.example');
    await grantAdmin(ctx, actor, max!, { kind: 'domain', domain: 'roles-d.example' });
    await grantAdmin(ctx, actor, max!, { kind: 'global' });
    await removeDomain(ctx, actor, 'roles-d.example');
    expect(await rolesOf(ctx, (await findMailbox(ctx, max!)).id)).toEqual([{ kind: 'global' }]);
    const id = (await findMailbox(ctx, max!)).id;
    await deleteMailbox(ctx, actor, max!);
    expect(await q('SELECT 1 FROM admin_roles WHERE mailbox_id = $1', [id])).toEqual([]);
  });
});

describe('domain summaries and the audit page, limited to the domains an admin reaches', () => {
  it('mailbox counts, the effective policy and the overrides, for every domain or only some', async () => {
    await domainWith('sum-a.example', ['a', 'b', 'c']);
    await domainWith('sum-b.example', ['d']);
    await addDomain(ctx, actor, 'sum-c.example');
    await setDomainPolicy(ctx, actor, 'sum-b.example', { minLength: 16, historyCount: 2 });
    await setDomainEnabled(ctx, actor, 'sum-c.example', false, 'moved');
    const only = ['sum-b.example', 'sum-c.example', 'sum-a.example'];
    const some = (await listDomainSummaryPage(ctx, { only, limit: 50 })).items;
    expect(some.map((d) => [d.name, d.mailbox_count, d.enabled, d.disabled_reason])).toEqual([
      ['sum-a.example', 3, true, null],
      ['sum-b.example', 1, true, null],
      ['sum-c.example', 0, false, 'moved'],
    ]);
    expect(some[0]!.policy).toMatchObject({ minLength: 12, historyCount: 5 });
    expect(some[0]!.overrides).toEqual({});
    expect(some[1]!.policy).toMatchObject({ minLength: 16, historyCount: 2, minScore: 3 });
    expect(some[1]!.overrides).toEqual({ minLength: 16, historyCount: 2 });
    // A page at a time, by name, counts and all; a search within the domains reached.
    const first = await listDomainSummaryPage(ctx, { only, limit: 2 });
    expect([first.items.map((d) => d.name), first.next]).toEqual([['sum-a.example', 'sum-b.example'], 'sum-b.example']);
    const second = await listDomainSummaryPage(ctx, { only, after: first.next!, limit: 2 });
    expect([second.items.map((d) => [d.name, d.mailbox_count]), second.next]).toEqual([[['sum-c.example', 0]], null]);
    expect((await listDomainSummaryPage(ctx, { only, q: ' SUM-B ', limit: 2 })).items.map((d) => d.name)).toEqual(['sum-b.example']);
    expect((await listDomainSummaryPage(ctx, { only: [], limit: 50 })).items).toEqual([]);
    const all = (await listDomainSummaryPage(ctx, { only: null, limit: 1000 })).items.map((d) => d.name);
    expect(all).toEqual(expect.arrayContaining(['sum-a.example', 'sum-b.example', 'sum-c.example', 'sess.example']));
  });

  it('a domain admin sees the entries about its domains and their mailboxes only; pages by id, newest first; filter by target', async () => {
    const [ann] = await domainWith('audit-a.example', ['ann', 'amy']);
    const [ben] = await domainWith('audit-b.example', ['ben']);
    await updateMailbox(ctx, actor, ann!, { displayName: 'Ann' });
    await updateMailbox(ctx, actor, ben!, { displayName: 'Ben' });
    await createToken(ctx, actor, 'audit-token', null);
    const mine = await listAuditPage(ctx, { domains: ['audit-a.example'], limit: 100 });
    expect(mine.items.map((e) => [e.action, e.target])).toEqual([
      ['mailbox.update', ann],
      ['mailbox.add', 'amy@audit-a.example'],
      ['mailbox.add', ann],
      ['domain.add', 'audit-a.example'],
    ]);
    expect(mine.next).toBeNull();

    const pages: string[][] = [];
    let before: string | undefined;
    do {
      const page = await listAuditPage(ctx, { domains: ['audit-a.example', 'audit-b.example'], limit: 3, ...(before && { before }) });
      pages.push(page.items.map((e) => e.id));
      before = page.next ?? undefined;
    } while (before);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    const ids = pages.flat().map(BigInt);
    expect([...ids].sort((a, b) => (a > b ? -1 : 1))).toEqual(ids);
    // Each domain's newest entries merged: every entry once, the same as one long page; a domain named twice counts once.
    const both = await listAuditPage(ctx, { domains: ['audit-b.example', 'audit-a.example', 'audit-b.example'], limit: 100 });
    expect(both.items.map((e) => e.id)).toEqual(pages.flat());
    expect((await listAuditPage(ctx, { domains: ['audit-a.example'], target: ann!, limit: 10 })).items.map((e) => e.action)).toEqual(['mailbox.update', 'mailbox.add']);

    expect((await listAuditPage(ctx, { domains: ['audit-b.example'], target: ann!, limit: 10 })).items).toEqual([]);
    expect((await listAuditPage(ctx, { domains: null, target: ann!, limit: 10 })).items.map((e) => e.action)).toEqual(['mailbox.update', 'mailbox.add']);
    const everything = await listAuditPage(ctx, { domains: null, limit: 1000 });
    expect(everything.items.some((e) => e.target === 'audit-token')).toBe(true);
    expect((await listAuditPage(ctx, { domains: [], limit: 10 })).items).toEqual([]);
    await expect(listAuditPage(ctx, { domains: null, before: '1; DROP', limit: 10 })).rejects.toMatchObject({ code: 'invalid_cursor' });
    // 19 digits, past bigint: a usage error, not a database error.
    await expect(listAuditPage(ctx, { domains: null, before: '9223372036854775808', limit: 10 })).rejects.toMatchObject({ code: 'invalid_cursor' });
    expect((await listAuditPage(ctx, { domains: null, before: '9223372036854775807', limit: 10 })).items.length).toBeGreaterThan(0);
  });
});

describe('paged mailbox listing', () => {
  it('250 mailboxes in pages by address, with the total; q matches a substring of address or name, case-insensitive, % and _ literally', async () => {
    await addDomain(ctx, actor, 'many.example');
    await addDomain(ctx, actor, 'other.example');
    // Straight into the table: 250 policy checks and hashes would only slow the test down.
    const hash = await hashPassword(PW, ctx.config.hash);
    await q(
      `INSERT INTO mailboxes (address, domain, display_name, password_hash)
       SELECT format('user%s@many.example', lpad(i::text, 3, '0')), 'many.example', CASE WHEN i % 10 = 0 THEN 'Piet Jansen' ELSE 'Someone Else' END, $1
       FROM generate_series(1, 250) i`,
      [hash],
    );
    await q("INSERT INTO mailboxes (address, domain, display_name, password_hash) VALUES ('user001@other.example', 'other.example', 'Piet Jansen', $1)", [hash]);

    const seen: string[] = [];
    const sizes: number[] = [];
    let after: string | undefined;
    do {
      const page = await listMailboxPage(ctx, 'many.example', { limit: 100, ...(after && { after }) });
      expect(page.total).toBe(250);
      seen.push(...page.items.map((m) => m.address));
      sizes.push(page.items.length);
      after = page.next ?? undefined;
    } while (after);
    expect(sizes).toEqual([100, 100, 50]);
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => `user${String(i + 1).padStart(3, '0')}@many.example`));

    const byName = await listMailboxPage(ctx, 'many.example', { q: 'JANSEN', limit: 10 });
    expect(byName.total).toBe(25);
    expect(byName.items.map((m) => m.address).slice(0, 3)).toEqual(['user010@many.example', 'user020@many.example', 'user030@many.example']);
    expect(byName.items.every((m) => m.display_name === 'Piet Jansen')).toBe(true);
    const rest = await listMailboxPage(ctx, 'many.example', { q: 'jansen', limit: 100, after: byName.next! });
    expect(rest.items).toHaveLength(15);
    expect(rest.next).toBeNull();

    const byAddress = await listMailboxPage(ctx, 'many.example', { q: 'ER24', limit: 100 });
    expect(byAddress.items.map((m) => m.address)).toEqual(['user240@many.example', 'user241@many.example', 'user242@many.example', 'user243@many.example', 'user244@many.example', 'user245@many.example', 'user246@many.example', 'user247@many.example', 'user248@many.example', 'user249@many.example']);
    expect((await listMailboxPage(ctx, 'many.example', { q: '%', limit: 10 })).total).toBe(0);
    expect((await listMailboxPage(ctx, 'many.example', { q: 'user_01', limit: 10 })).total).toBe(0);
    await expect(listMailboxPage(ctx, 'missing.example', { limit: 10 })).rejects.toMatchObject({ code: 'domain_not_found' });
  });
});

describe('the live password check', () => {
  it('names every failing rule for an existing mailbox, history included, with the zxcvbn score; never logs the candidate', async () => {
    const [nina] = await domainWith('check.example', ['nina'], 'Nina Bakker');
    const weak = await checkCandidate(ctx, nina!, 'nina1985');
    expect(weak.violations.map((v) => v.code).sort()).toEqual(['contains_date', 'contains_local_part', 'contains_name', 'too_short', 'too_weak']);
    expect(weak.score).toBeLessThan(3);
    expect(weak.violations.find((v) => v.code === 'too_short')!.params).toEqual({ min: 12 });

    const reused = await checkCandidate(ctx, nina!, PW);
    expect(reused.violations).toEqual([expect.objectContaining({ code: 'reused', params: { count: 5 } })]);
    expect(reused.score).toBeGreaterThanOrEqual(3);

    const good = await checkCandidate(ctx, nina!, 'Velvet-Tundra-Quasar-41');
    expect(good).toEqual({ violations: [], score: expect.any(Number) });
    expect(good.score).toBeGreaterThanOrEqual(3);

    expect(await checkCandidate(ctx, nina!, '')).toEqual({ violations: [expect.objectContaining({ code: 'password_empty' })], score: 0 });
    await expect(checkCandidate(ctx, 'nobody@check.example', 'Velvet-Tundra-Quasar-41')).rejects.toMatchObject({ code: 'mailbox_not_found' });
    // Nothing was changed by the checks.
    expect((await findMailbox(ctx, nina!)).credential_version).toBe(1);
    for (const pw of ['nina1985', 'Velvet-Tundra-Quasar-41']) expect(ctx.logLines().join('\n')).not.toContain(pw);
  });

  it('for a mailbox not yet created: its address and name, the domain\'s policy, no history', async () => {
    await addDomain(ctx, actor, 'new.example');
    await setDomainPolicy(ctx, actor, 'new.example', { minLength: 20 });
    const r = await checkNewCandidate(ctx, 'oscar@new.example', 'Oscar de Vries', 'Oscar-Vries-Velvet-Tundra');
    expect(r.violations.map((v) => v.code).sort()).toEqual(['contains_local_part', 'contains_name']);
    const short = await checkNewCandidate(ctx, 'oscar@new.example', null, 'Velvet-Tundra-Q1');
    expect(short.violations).toEqual([expect.objectContaining({ code: 'too_short', params: { min: 20 } })]);
    expect((await checkNewCandidate(ctx, 'oscar@new.example', null, PW + '-Quasar')).violations).toEqual([]);
    await expect(checkNewCandidate(ctx, 'oscar@nowhere.example', null, PW)).rejects.toMatchObject({ code: 'domain_not_found' });
  });
});

describe('per-node progress of a rotation', () => {
  it('onProgress gets each change of the per-node outcomes, the last one the answer; an applied node carries applied_ms', async () => {
    const [pam] = await domainWith('progress.example', ['pam']);
    const worker = await startNodeWorker(ctx, null);
    try {
      const progress: NodeOutcome[][] = [];
      const r = await rotateAndWait(ctx, null, actor, { address: pam!, password: { kind: 'generate' }, kick: true, reason: 'rotate', waitMs: 10_000 }, (nodes) => progress.push(nodes));
      expect(r.complete).toBe(true);
      const mine = r.nodes.find((n) => n.node_id === ctx.config.node_id);
      expect(mine).toMatchObject({ applied: true, applied_ms: expect.any(Number) });
      expect(progress.length).toBeGreaterThanOrEqual(1);
      expect(progress.at(-1)).toEqual(r.nodes);
      for (let i = 1; i < progress.length; i++) expect(progress[i]).not.toEqual(progress[i - 1]);
    } finally {
      await worker.stop();
    }
  });
});
