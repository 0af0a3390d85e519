/**
 * The web console's pages and security, driven in process with `app.inject()`
 * on a real PostgreSQL and real argon2: which role sees what, the 303 to /login,
 * a domain admin's 404 for every other domain, Origin and CSRF checks, headers
 * and CSP, cookie names and flags behind (un)trusted proxies, Dutch, and the
 * policy-check endpoint (never logging its candidate). The browser flows are
 * in the Chromium tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { Authenticator } from '../../src/auth/verify.js';
import { buildAdminListener } from '../../src/http/admin-listener.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { addDomain } from '../../src/accounts/domains.js';
import { createMailbox } from '../../src/accounts/mailboxes.js';
import { grantAdmin } from '../../src/accounts/admins.js';
import { registerNode } from '../../src/store/sql/nodes.js';
import type { App } from '../../src/http/server.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { makeContext, type TestContext } from '../helpers/context.js';

const setup = { actor: 'test-setup', sourceIp: null };
const PW = 'Quartz-Lantern-Velvet-42';
const SELF = 'http://console.test';

let db: { url: string; drop(): Promise<void> };
const contexts: TestContext[] = [];
const apps: App[] = [];
let ctx: TestContext;
let app: App;

async function listener(env: Record<string, string> = {}): Promise<{ ctx: TestContext; app: App }> {
  const c = await makeContext(db.url, { MAILPASSD_LOG_LEVEL: 'debug', MAILPASSD_ROTATION_WAIT_MS: '300', MAILPASSD_ROTATION_STALE_AFTER_MS: '600000', ...env });
  contexts.push(c);
  const metrics = createMetrics();
  const authenticator = new Authenticator(c, metrics);
  await authenticator.init();
  const a = buildAdminListener(c, { metrics, authenticator });
  apps.push(a);
  await a.ready();
  return { ctx: c, app: a };
}

let mailboxes = 0;
/** A fresh mailbox in a domain, with the test password. */
async function mailbox(domain: string, name: string | null = null): Promise<string> {
  const address = `user${++mailboxes}@${domain}`;
  await createMailbox(ctx, setup, { address, displayName: name, password: { kind: 'given', value: PW } });
  return address;
}

interface Session {
  cookie: string;
  csrf: string;
  address: string;
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded', host: 'console.test' };

async function login(address: string, opts: { a?: App; headers?: Record<string, string>; remoteAddress?: string } = {}): Promise<Session & { res: LightMyRequestResponse }> {
  const res = await (opts.a ?? app).inject({ method: 'POST', url: '/login', headers: { ...FORM, origin: SELF, ...opts.headers }, payload: form({ address, password: PW }), ...(opts.remoteAddress && { remoteAddress: opts.remoteAddress }) });
  expect(res.statusCode, res.body).toBe(303);
  const setCookie = String(res.headers['set-cookie']);
  const cookie = setCookie.split(';')[0]!;
  const me = await (opts.a ?? app).inject({ method: 'GET', url: '/me', headers: { cookie, host: 'console.test', ...opts.headers }, ...(opts.remoteAddress && { remoteAddress: opts.remoteAddress }) });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(me.body)?.[1];
  expect(csrf, me.body).toBeTruthy();
  return { cookie, csrf: csrf!, address, res };
}

const get = (s: Session | null, url: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'GET', url, headers: { host: 'console.test', ...(s && { cookie: s.cookie }), ...headers } });

const postForm = (s: Session | null, url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, headers: { ...FORM, origin: SELF, ...(s && { cookie: s.cookie }), ...headers }, payload: form({ ...(s && { _csrf: s.csrf }), ...fields }) });

const postApi = (s: Session, url: string, json: unknown, headers: Record<string, string> = {}, a: App = app) =>
  a.inject({ method: 'POST', url, headers: { host: 'console.test', origin: SELF, cookie: s.cookie, 'x-csrf-token': s.csrf, 'content-type': 'application/json', ...headers }, payload: JSON.stringify(json) } as InjectOptions);

const headingOf = (html: string) => /<h1[^>]*>([^<]*)<\/h1>/.exec(html)?.[1];
const q = async (text: string, values: unknown[] = []) => (await ctx.pool.query(text, values)).rows;

let globalAdmin: Session;
let domainAdmin: Session; // of a.example only
let owner: Session; // of a.example, no role
let bobOfB: string; // a mailbox of b.example

beforeAll(async () => {
  db = await createTestDatabase();
  ({ ctx, app } = await listener());
  await addDomain(ctx, setup, 'a.example');
  await addDomain(ctx, setup, 'b.example');
  const g = await mailbox('a.example', 'Grace Global');
  const d = await mailbox('a.example', 'Dana Domain');
  const o = await mailbox('a.example', 'Oscar Owner');
  bobOfB = await mailbox('b.example', 'Bob Bee');
  await grantAdmin(ctx, setup, g, { kind: 'global' });
  await grantAdmin(ctx, setup, d, { kind: 'domain', domain: 'a.example' });
  globalAdmin = await login(g);
  domainAdmin = await login(d);
  owner = await login(o);
});

afterAll(async () => {
  for (const a of apps) await a.close();
  for (const c of contexts) await c.close();
  await db?.drop();
});

describe('pages by role', () => {
  it('without a session every page is a 303 to /login', async () => {
    for (const url of ['/', '/me', '/domains', '/domains/a.example', '/domains/a.example/policy', '/cluster', '/audit']) {
      const r = await get(null, url);
      expect(r.statusCode, url).toBe(303);
      expect(r.headers.location, url).toBe('/login');
    }
  });

  it('the login page: heading, labels, button; / sends an owner to /me and an admin to /domains', async () => {
    const r = await get(null, '/login');
    expect(r.statusCode).toBe(200);
    expect(headingOf(r.body)).toBe('Sign in');
    expect(r.body).toContain('<label for="login-address">Email address</label>');
    expect(r.body).toContain('<label for="login-password">Password</label>');
    expect((await get(owner, '/')).headers.location).toBe('/me');
    expect((await get(globalAdmin, '/')).headers.location).toBe('/domains');
    expect((await get(domainAdmin, '/')).headers.location).toBe('/domains');
  });

  it('an owner sees their mailbox and no admin page (404)', async () => {
    const me = await get(owner, '/me');
    expect(me.statusCode).toBe(200);
    expect(headingOf(me.body)).toBe('My mailbox');
    for (const text of ['Password last changed', 'Expires', 'Current password', 'New password', 'Confirm new password', 'Change password', 'Sign out', 'Requirements', 'Strength']) {
      expect(me.body, text).toContain(text);
    }
    expect(me.body).toMatch(/<li data-rule="[a-z_]+" data-state="pending">/);
    for (const url of ['/domains', '/domains/a.example', '/cluster', '/audit']) expect((await get(owner, url)).statusCode, url).toBe(404);
  });

  it('a global admin sees every domain, the mailbox list, policy, cluster and audit', async () => {
    await registerNode(ctx.pool, 'mail1', 'mail1.test', 'doveadm');
    const domains = await get(globalAdmin, '/domains');
    expect(headingOf(domains.body)).toBe('Domains');
    for (const col of ['Domain', 'Mailboxes', 'Policy', 'Status', 'Domain name', 'Add domain']) expect(domains.body).toContain(col);
    expect(domains.body).toContain('href="/domains/a.example"');
    expect(domains.body).toContain('href="/domains/b.example"');

    const list = await get(globalAdmin, '/domains/a.example');
    expect(list.statusCode).toBe(200);
    expect(headingOf(list.body)).toBe('a.example');
    for (const text of ['Search mailboxes', 'Address', 'Name', 'Status', 'Password age', 'Expires', 'Edit policy', 'Add mailbox', 'Generate']) expect(list.body, text).toContain(text);
    expect(list.body).toContain(`aria-label="Actions for ${owner.address}"`);
    expect(list.body).toContain('aria-haspopup="menu"');
    expect(list.body).toContain('role="menuitem"');

    const policy = await get(globalAdmin, '/domains/a.example/policy');
    expect(headingOf(policy.body)).toBe('Password policy');
    for (const text of ['Minimum length', 'Maximum age (days)', 'Passwords remembered', 'Minimum strength', 'Save policy']) expect(policy.body, text).toContain(text);

    const cluster = await get(globalAdmin, '/cluster');
    expect(headingOf(cluster.body)).toBe('Cluster');
    expect(cluster.body).toContain('data-node="mail1"');

    const audit = await get(globalAdmin, `/audit?target=${encodeURIComponent(owner.address)}`);
    expect(headingOf(audit.body)).toBe('Audit log');
    expect(audit.body).toContain('console.login');
  });

  it('search and pages: 50 rows a page, Next page and Previous page', async () => {
    await addDomain(ctx, setup, 'many.example');
    for (let i = 0; i < 55; i++) await createMailbox(ctx, setup, { address: `m${String(i).padStart(2, '0')}@many.example`, displayName: i === 7 ? 'Seventh Person' : null, password: { kind: 'given', value: PW } });
    const first = await get(globalAdmin, '/domains/many.example');
    expect(first.body.match(/<tr data-address="/g)).toHaveLength(50);
    const next = /<a href="([^"]+)" rel="next">Next page<\/a>/.exec(first.body)?.[1];
    expect(next).toBeTruthy();
    const second = await get(globalAdmin, next!.replace(/&amp;/g, '&'));
    expect(second.body.match(/<tr data-address="/g)).toHaveLength(5);
    expect(second.body).toContain('Previous page');
    const found = await get(globalAdmin, '/domains/many.example?q=seventh');
    expect(found.body.match(/<tr data-address="/g)).toHaveLength(1);
    expect(found.body).toContain('m07@many.example');
  });
});

describe('the domains page, paged like a domain\'s mailboxes', () => {
  const names = Array.from({ length: 57 }, (_, i) => `pd${String(i).padStart(2, '0')}.example`);
  const listed = (html: string) => [...html.matchAll(/<th scope="row"><a href="\/domains\/([^"]+)">/g)].map((m) => decodeURIComponent(m[1]!));
  const linkOf = (html: string, rel: 'next' | 'prev') => new RegExp(`<a href="([^"]+)" rel="${rel}">`).exec(html)?.[1]?.replace(/&amp;/g, '&');
  /** Every page from `url` on by Next page, then back by Previous page: each page's domains. */
  async function walk(s: Session, url: string): Promise<{ forth: string[][]; back: string[][] }> {
    const forth: string[][] = [];
    let page = await get(s, url);
    for (;;) {
      expect(page.statusCode, page.body).toBe(200);
      forth.push(listed(page.body));
      const next = linkOf(page.body, 'next');
      if (!next) break;
      page = await get(s, next);
    }
    const back: string[][] = [listed(page.body)];
    for (let prev = linkOf(page.body, 'prev'); prev; prev = linkOf(page.body, 'prev')) {
      page = await get(s, prev);
      back.unshift(listed(page.body));
    }
    return { forth, back };
  }

  beforeAll(async () => {
    for (const name of names) await addDomain(ctx, setup, name);
  });

  it('50 a page by name, Next page and Previous page through every domain exactly once; a search box', async () => {
    const all = (await q('SELECT name FROM domains ORDER BY name')).map((r) => r.name as string);
    expect(all.length).toBeGreaterThan(50);
    const first = await get(globalAdmin, '/domains');
    expect(first.body).toContain('<label for="domain-search">Search domains</label>');
    expect(first.body).toContain('<nav class="pages" aria-label="Domains">');
    expect(first.body).not.toContain('rel="prev"');
    const { forth, back } = await walk(globalAdmin, '/domains');
    expect(forth.slice(0, -1).every((p) => p.length === 50)).toBe(true);
    expect(forth.flat()).toEqual(all);
    expect(back).toEqual(forth);

    const found = await get(globalAdmin, '/domains?q=PD0');
    expect(listed(found.body)).toEqual(names.slice(0, 10));
    expect(found.body).toContain('value="PD0"');
    const none = await get(globalAdmin, '/domains?q=nothing-like-this');
    expect(listed(none.body)).toEqual([]);
    expect(none.body).toContain('No domains match.');
  });

  it('a domain admin of many domains pages through those only', async () => {
    const address = await mailbox('pd00.example', 'Many Domains');
    const mine = names.filter((_, i) => i % 2 === 0).concat(['a.example']);
    for (const domain of mine) await grantAdmin(ctx, setup, address, { kind: 'domain', domain });
    const s = await login(address);
    const { forth, back } = await walk(s, '/domains');
    expect(forth.map((p) => p.length)).toEqual([30]);
    expect(forth.flat()).toEqual([...mine].sort());
    expect(back).toEqual(forth);
    const found = await get(s, '/domains?q=pd01');
    expect(listed(found.body)).toEqual([]);
    expect(found.body).not.toContain('pd01.example');
  });

  it('in Dutch', async () => {
    const r = await get(globalAdmin, '/domains?q=nothing-like-this', { 'accept-language': 'nl' });
    for (const text of ['Domeinen zoeken', 'Geen domeinen gevonden.', 'Zoeken']) expect(r.body).toContain(text);
    const next = await get(globalAdmin, '/domains', { 'accept-language': 'nl' });
    expect(next.body).toContain('rel="next">Volgende pagina</a>');
  });
});

describe('a domain admin never reaches another domain', () => {
  it('sees only its own domain listed', async () => {
    const r = await get(domainAdmin, '/domains');
    expect(r.body).toContain('href="/domains/a.example"');
    expect(r.body).not.toContain('b.example');
    expect(r.body).not.toContain('Add domain');
  });

  it('gets 404 for the other domain\'s pages, whatever the URL spells', async () => {
    for (const url of ['/domains/b.example', '/domains/B.EXAMPLE', '/domains/b.example/policy', '/domains/nonexistent.example', `/domains/b.example?q=bob`]) {
      const r = await get(domainAdmin, url);
      expect(r.statusCode, url).toBe(404);
      expect(r.body, url).not.toContain(bobOfB);
    }
  });

  it('gets 404 for actions on the other domain\'s mailboxes, also through its own domain\'s URL', async () => {
    for (const url of [
      `/domains/b.example/mailboxes/${bobOfB}/disable`,
      `/domains/a.example/mailboxes/${bobOfB}/disable`,
      `/domains/b.example/mailboxes/${bobOfB}/kick`,
    ]) {
      const r = await postForm(domainAdmin, url, {});
      expect(r.statusCode, url).toBe(404);
    }
    const del = await postForm(domainAdmin, `/domains/a.example/mailboxes/${bobOfB}/delete`, { confirm: bobOfB });
    expect(del.statusCode).toBe(404);
    const add = await postForm(domainAdmin, '/domains/b.example/mailboxes', { address: 'new', name: '', password: PW });
    expect(add.statusCode).toBe(404);
    expect(await q('SELECT enabled FROM mailboxes WHERE address = $1', [bobOfB])).toEqual([{ enabled: true }]);
    expect(await q("SELECT 1 FROM mailboxes WHERE address = 'new@b.example'")).toHaveLength(0);
    // The JSON endpoints too.
    expect((await postApi(domainAdmin, '/console/api/policy-check', { address: bobOfB, password: 'x' })).statusCode).toBe(404);
    expect((await postApi(domainAdmin, '/console/api/password', { address: bobOfB, password: 'Another-Long-Passphrase-77' })).statusCode).toBe(404);
    expect((await postApi(domainAdmin, '/console/api/generate', { address: bobOfB })).statusCode).toBe(404);
  });

  it('may not edit a policy (global only): 403, nothing saved', async () => {
    const r = await postForm(domainAdmin, '/domains/a.example/policy', { minLength: '20' });
    expect(r.statusCode).toBe(403);
    expect(await q("SELECT policy FROM domains WHERE name = 'a.example'")).toEqual([{ policy: {} }]);
  });

  it('acts on its own domain: disable, enable, audited as console:<address>', async () => {
    const target = await mailbox('a.example');
    const off = await postForm(domainAdmin, `/domains/a.example/mailboxes/${target}/disable`, {});
    expect(off.statusCode, off.body).toBe(303);
    expect(await q('SELECT enabled FROM mailboxes WHERE address = $1', [target])).toEqual([{ enabled: false }]);
    expect((await postForm(domainAdmin, `/domains/a.example/mailboxes/${target}/enable`, {})).statusCode).toBe(303);
    expect(await q("SELECT actor FROM audit_log WHERE action = 'mailbox.disable' AND target = $1", [target])).toEqual([{ actor: `console:${domainAdmin.address}` }]);
  });
});

describe('forms that post and redirect', () => {
  it('adds a mailbox (its password checked by the policy), then deletes it only when the address is typed', async () => {
    const weak = await postForm(globalAdmin, '/domains/a.example/mailboxes', { address: 'fresh', name: 'Fresh Person', password: 'fresh' });
    expect(weak.statusCode).toBe(422);
    expect(weak.body).toMatch(/role="alert"/);
    const add = await postForm(globalAdmin, '/domains/a.example/mailboxes', { address: 'fresh', name: 'Fresh Person', password: 'Saffron-Tunnel-Orbit-66' });
    expect(add.statusCode, add.body).toBe(303);
    expect(add.headers.location).toBe('/domains/a.example?notice=mailbox_added&subject=fresh%40a.example');
    expect((await get(globalAdmin, String(add.headers.location))).body).toContain('Mailbox fresh@a.example added.');
    const wrong = await postForm(globalAdmin, '/domains/a.example/mailboxes/fresh@a.example/delete', { confirm: 'fresh@a.exampl' });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('The address typed does not match');
    expect(await q("SELECT 1 FROM mailboxes WHERE address = 'fresh@a.example'")).toHaveLength(1);
    const del = await postForm(globalAdmin, '/domains/a.example/mailboxes/fresh@a.example/delete', { confirm: 'fresh@a.example' });
    expect(del.statusCode).toBe(303);
    expect(await q("SELECT 1 FROM mailboxes WHERE address = 'fresh@a.example'")).toHaveLength(0);
  });

  it('a global admin adds a domain and saves its policy; an empty field inherits', async () => {
    const added = await postForm(globalAdmin, '/domains', { name: 'added.example' });
    expect(added.statusCode).toBe(303);
    // Shown among however many domains: the list searched for it, with the notice.
    expect(added.headers.location).toBe('/domains?q=added.example&notice=domain_added&subject=added.example');
    const shown = await get(globalAdmin, String(added.headers.location));
    expect(shown.body).toContain('href="/domains/added.example"');
    expect(shown.body).toContain('Domain added.example added.');
    const r = await postForm(globalAdmin, '/domains/added.example/policy', { minLength: '16', maxAgeDays: '', historyCount: '3', minScore: '' });
    expect(r.statusCode, r.body).toBe(303);
    expect(await q("SELECT policy FROM domains WHERE name = 'added.example'")).toEqual([{ policy: { minLength: 16, historyCount: 3 } }]);
    const bad = await postForm(globalAdmin, '/domains/added.example/policy', { minLength: '0' });
    expect(bad.statusCode).toBe(422);
    expect(bad.body).toMatch(/role="alert"/);
    // The domain admin of a.example never sees it.
    expect((await get(domainAdmin, '/domains/added.example/policy')).statusCode).toBe(404);
  });

  it('a domain admin\'s audit log holds only its domains\' entries', async () => {
    await postForm(globalAdmin, `/domains/b.example/mailboxes/${bobOfB}/kick`, {});
    expect((await get(globalAdmin, `/audit?target=${encodeURIComponent(bobOfB)}`)).body).toContain('mailbox.kick');
    const r = await get(domainAdmin, `/audit?target=${encodeURIComponent(bobOfB)}`);
    expect(r.statusCode).toBe(200);
    expect(r.body).not.toContain(`<td>${bobOfB}</td>`);
    expect(r.body).toContain('No entries.');
    expect((await get(domainAdmin, '/audit')).body).not.toContain('b.example</td>');
  });
});

describe('state changes: Origin and CSRF', () => {
  it('a cross-origin POST is refused (403) even with the right token', async () => {
    const target = await mailbox('a.example');
    const r = await postForm(globalAdmin, `/domains/a.example/mailboxes/${target}/disable`, {}, { origin: 'https://evil.example' });
    expect(r.statusCode).toBe(403);
    const login = await app.inject({ method: 'POST', url: '/login', headers: { ...FORM, origin: 'https://evil.example' }, payload: form({ address: target, password: PW }) });
    expect(login.statusCode).toBe(403);
    expect(login.headers['set-cookie']).toBeUndefined();
    const api = await postApi(globalAdmin, '/console/api/policy-check', { address: target, password: 'x' }, { origin: 'https://evil.example' });
    expect(api.statusCode).toBe(403);
    expect(await q('SELECT enabled FROM mailboxes WHERE address = $1', [target])).toEqual([{ enabled: true }]);
  });

  it('a missing or wrong CSRF token is refused (403); the right one passes', async () => {
    const target = await mailbox('a.example');
    const path = `/domains/a.example/mailboxes/${target}/disable`;
    const missing = await app.inject({ method: 'POST', url: path, headers: { ...FORM, origin: SELF, cookie: globalAdmin.cookie }, payload: '' });
    expect(missing.statusCode).toBe(403);
    const wrong = await app.inject({ method: 'POST', url: path, headers: { ...FORM, origin: SELF, cookie: globalAdmin.cookie }, payload: form({ _csrf: 'x'.repeat(globalAdmin.csrf.length) }) });
    expect(wrong.statusCode).toBe(403);
    // Another session's token is a wrong one.
    const others = await app.inject({ method: 'POST', url: path, headers: { ...FORM, origin: SELF, cookie: globalAdmin.cookie }, payload: form({ _csrf: domainAdmin.csrf }) });
    expect(others.statusCode).toBe(403);
    const api = await postApi(globalAdmin, '/console/api/policy-check', { address: target, password: 'x' }, { 'x-csrf-token': 'nope' });
    expect(api.statusCode).toBe(403);
    expect(await q('SELECT enabled FROM mailboxes WHERE address = $1', [target])).toEqual([{ enabled: true }]);
    expect((await postForm(globalAdmin, path, {})).statusCode).toBe(303);
  });
});

describe('headers, CSP and markup', () => {
  it('every page has the security headers and a strict CSP, and no inline script or style', async () => {
    const pages: Array<[Session | null, string]> = [
      [null, '/login'],
      [owner, '/me'],
      [globalAdmin, '/domains'],
      [globalAdmin, '/domains/a.example'],
      [globalAdmin, '/domains/a.example/policy'],
      [globalAdmin, '/cluster'],
      [globalAdmin, '/audit'],
      [domainAdmin, '/domains/b.example'], // the 404 page too
    ];
    for (const [s, url] of pages) {
      const r = await get(s, url);
      const csp = String(r.headers['content-security-policy']);
      expect(csp, url).toContain("default-src 'self'");
      expect(csp, url).toContain("frame-ancestors 'none'");
      expect(csp, url).toContain("script-src 'self'");
      expect(csp, url).toContain("style-src 'self'");
      expect(csp, url).not.toContain('unsafe-inline');
      expect(r.headers['x-content-type-options'], url).toBe('nosniff');
      expect(r.headers['referrer-policy'], url).toBe('same-origin');
      expect(r.headers['content-type'], url).toMatch(/^text\/html; charset=utf-8/);
      // Every <script> has a src and no body; no <style> element; no style or on* attribute.
      for (const tag of r.body.match(/<script\b[^>]*>[\s\S]*?<\/script>/g) ?? []) expect(tag, url).toMatch(/^<script type="module" src="\/assets\/[a-z-]+\.js"><\/script>$/);
      expect(r.body, url).not.toMatch(/<style\b/i);
      expect(r.body, url).not.toMatch(/\sstyle=/i);
      expect(r.body, url).not.toMatch(/\son[a-z]+=/i);
      expect(r.body, url).toMatch(/^<!doctype html><html lang="en">/);
    }
  });

  it('serves the stylesheet and script from the package', async () => {
    const css = await get(null, '/assets/console.css');
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    const js = await get(null, '/assets/console.js');
    expect(js.statusCode, 'dist/console-client is built by npm run build').toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
  });

  it('escapes what users typed (a display name with markup)', async () => {
    const evil = await mailbox('a.example', '<img src=x onerror=alert(1)>');
    const r = await get(globalAdmin, `/domains/a.example?q=${encodeURIComponent(evil)}`);
    // kitajs escapes & < " ' (a lone > cannot open a tag).
    expect(r.body).toContain('<td>&lt;img src=x onerror=alert(1)></td>');
    expect(r.body).not.toContain('<img src=x');
  });

  it('leaves the admin API as it was: an unknown /v1 route without a token is 401', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/nothing-here' });
    expect(r.statusCode).toBe(401);
    expect(r.headers['content-security-policy']).toBeUndefined();
  });
});

describe('cookies and proxies', () => {
  it('over plain HTTP: mailpassd_session, HttpOnly, SameSite=Strict, Path=/, not Secure', async () => {
    const s = await login(owner.address);
    const c = String(s.res.headers['set-cookie']);
    expect(c).toMatch(/^mailpassd_session=[^;]+;/);
    expect(c).toContain('HttpOnly');
    expect(c).toContain('SameSite=Strict');
    expect(c).toContain('Path=/');
    expect(c).not.toContain('Secure');
  });

  it('X-Forwarded-Proto https from a trusted proxy: __Host-mailpassd_session, Secure; from anyone else: ignored', async () => {
    const { app: proxied } = await listener({ MAILPASSD_CONSOLE_TRUSTED_PROXIES: '10.9.0.0/16' });
    const viaProxy = await login(owner.address, { a: proxied, remoteAddress: '10.9.0.5', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' } });
    const c = String(viaProxy.res.headers['set-cookie']);
    expect(c).toMatch(/^__Host-mailpassd_session=[^;]+;/);
    expect(c).toContain('Secure');
    expect(c).toContain('HttpOnly');
    expect(c).toContain('SameSite=Strict');
    expect(c).toContain('Path=/');
    // The audit log has the end user's address the proxy named.
    expect(await q("SELECT source_ip FROM audit_log WHERE action = 'console.login' ORDER BY id DESC LIMIT 1")).toEqual([{ source_ip: '203.0.113.7' }]);

    const direct = await login(owner.address, { a: proxied, remoteAddress: '192.0.2.9', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.8' } });
    const d = String(direct.res.headers['set-cookie']);
    expect(d).toMatch(/^mailpassd_session=/);
    expect(d).not.toContain('Secure');
    expect(await q("SELECT source_ip FROM audit_log WHERE action = 'console.login' ORDER BY id DESC LIMIT 1")).toEqual([{ source_ip: '192.0.2.9' }]);
  });
});

describe('sign-in, sign-out', () => {
  it('refuses a wrong password with the generic alert, audited without the password', async () => {
    const r = await app.inject({ method: 'POST', url: '/login', headers: { ...FORM, origin: SELF }, payload: form({ address: owner.address, password: 'Wrong-Guess-Secret-91' }) });
    expect(r.statusCode).toBe(401);
    expect(r.body).toMatch(/<p role="alert" class="error">Wrong address or password<\/p>/);
    const unknown = await app.inject({ method: 'POST', url: '/login', headers: { ...FORM, origin: SELF }, payload: form({ address: 'nobody@a.example', password: 'Wrong-Guess-Secret-91' }) });
    expect(unknown.body).toContain('Wrong address or password');
    const rows = await q("SELECT details::text FROM audit_log WHERE action = 'console.login' AND target = $1", [owner.address]);
    expect(rows.some((r) => r.details.includes('"refused"'))).toBe(true);
    expect(rows.some((r) => r.details.includes('"ok"'))).toBe(true);
    expect(JSON.stringify(await q('SELECT * FROM audit_log'))).not.toContain('Wrong-Guess-Secret-91');
    expect(ctx.logLines().join('\n')).not.toContain('Wrong-Guess-Secret-91');
  });

  it('is throttled by the login throttle, keyed by the end user\'s address behind a trusted proxy', async () => {
    const { app: strict } = await listener({ MAILPASSD_AUTH_MAX_FAILURES_PER_USER_IP: '2', MAILPASSD_CONSOLE_TRUSTED_PROXIES: '10.9.0.0/16' });
    const target = await mailbox('a.example');
    const attempt = (password: string, user: string) =>
      strict.inject({ method: 'POST', url: '/login', remoteAddress: '10.9.0.5', headers: { ...FORM, origin: SELF, 'x-forwarded-for': user }, payload: form({ address: target, password }) });
    expect((await attempt('Wrong-Guess-1', '198.51.100.1')).statusCode).toBe(401);
    expect((await attempt('Wrong-Guess-2', '198.51.100.1')).statusCode).toBe(401);
    const third = await attempt(PW, '198.51.100.1');
    expect(third.statusCode).toBe(429);
    expect(third.body).toContain('Too many attempts, try again later');
    // Another user behind the same proxy is not locked out with them.
    expect((await attempt(PW, '198.51.100.2')).statusCode).toBe(303);
    expect(await q("SELECT source_ip, details->>'reason' AS reason FROM audit_log WHERE action = 'console.login' AND target = $1 ORDER BY id", [target])).toEqual([
      { source_ip: '198.51.100.1', reason: 'password_mismatch' },
      { source_ip: '198.51.100.1', reason: 'password_mismatch' },
      { source_ip: '198.51.100.1', reason: 'throttled' },
      { source_ip: '198.51.100.2', reason: 'ok' },
    ]);
  });

  it('a disabled mailbox is told so', async () => {
    const off = await mailbox('a.example');
    await q('UPDATE mailboxes SET enabled = false WHERE address = $1', [off]);
    const r = await app.inject({ method: 'POST', url: '/login', headers: { ...FORM, origin: SELF }, payload: form({ address: off, password: PW }) });
    expect(r.body).toContain('This mailbox is disabled');
  });

  it('sign out ends the session', async () => {
    const s = await login(owner.address);
    const out = await postForm(s, '/logout', {});
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/login');
    expect((await get(s, '/me')).statusCode).toBe(303);
  });
});

describe('Dutch from Accept-Language', () => {
  it('renders the login page and the signed-in pages in Dutch', async () => {
    const nl = { 'accept-language': 'nl-NL,nl;q=0.9,en;q=0.5' };
    const r = await get(null, '/login', nl);
    expect(r.body).toMatch(/^<!doctype html><html lang="nl">/);
    expect(headingOf(r.body)).toBe('Inloggen');
    for (const text of ['E-mailadres', 'Wachtwoord', '>Inloggen</button>']) expect(r.body).toContain(text);
    const me = await get(globalAdmin, '/me', nl);
    for (const text of ['Domeinen', 'Wachtwoord wijzigen', 'Uitloggen']) expect(me.body).toContain(text);
    expect((await get(null, '/login', { 'accept-language': 'de,en;q=0.5' })).body).toContain('<html lang="en">');
  });
});

describe('the policy check and the change', () => {
  it('names each failing rule, and its candidate never reaches the log', async () => {
    const candidate = 'oscar1990';
    const r = await postApi(owner, '/console/api/policy-check', { address: owner.address, password: candidate });
    expect(r.statusCode, r.body).toBe(200);
    const body = r.json();
    expect(body.ok).toBe(false);
    const codes = body.violations.map((v: any) => v.code);
    expect(codes).toContain('too_short');
    expect(body.violations.every((v: any) => typeof v.text === 'string' && v.text.length > 0)).toBe(true);
    expect(body.rules.some((rule: any) => rule.state === 'failed')).toBe(true);
    expect(r.body).not.toContain(candidate);
    const good = await postApi(owner, '/console/api/policy-check', { address: owner.address, password: 'Tangerine-Obelisk-Harbor-58' });
    expect(good.json()).toMatchObject({ ok: true, violations: [] });
    expect(ctx.logLines().join('\n')).not.toContain(candidate);
    expect(ctx.logLines().join('\n')).not.toContain('Tangerine-Obelisk-Harbor-58');
  });

  it('an owner may check only their own mailbox', async () => {
    const r = await postApi(owner, '/console/api/policy-check', { address: globalAdmin.address, password: 'whatever' });
    expect(r.statusCode).toBe(404);
  });

  it('is throttled per session', async () => {
    const s = await login(owner.address);
    const codes: number[] = [];
    for (let i = 0; i < 35; i++) codes.push((await postApi(s, '/console/api/policy-check', { address: s.address, password: `Candidate-${i}` })).statusCode);
    expect(codes.slice(0, 30).every((c) => c === 200)).toBe(true);
    expect(codes.at(-1)).toBe(429);
  });

  it('the admin change streams NDJSON: per-node lines, then the summary; a node that never confirms is named', async () => {
    const target = await mailbox('a.example');
    const r = await postApi(globalAdmin, '/console/api/password', { address: target, password: 'Cobalt-Meadow-Ferry-3141' });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = r.body.trim().split('\n').map((l) => JSON.parse(l));
    const done = lines.at(-1);
    expect(done.type).toBe('done');
    // mail1 is registered but has no worker: it never confirms within the 300 ms wait.
    const mail1 = done.nodes.find((n: any) => n.node_id === 'mail1');
    expect(mail1).toMatchObject({ state: 'failed' });
    expect(mail1.text).toContain('the old password may still work on mail1 until it catches up');
    expect(done.summary.text).toMatch(/^In force on 0 of \d+ nodes in /);
    expect(r.body).not.toContain('Cobalt-Meadow-Ferry-3141');
    expect(await q("SELECT actor FROM audit_log WHERE target = $1 AND action LIKE 'password%'", [target])).toEqual([{ actor: `console:${globalAdmin.address}` }]);
  });

  it('a refused password is a 422 naming the rules, before anything streams', async () => {
    const target = await mailbox('a.example');
    const r = await postApi(globalAdmin, '/console/api/password', { address: target, password: 'short' });
    expect(r.statusCode).toBe(422);
    expect(r.json().violations.map((v: any) => v.code)).toContain('too_short');
  });

  it('the owner changes their own password: this session goes on, the others end', async () => {
    const o = await mailbox('a.example', 'Petra Owner');
    const mine = await login(o);
    const other = await login(o);
    const r = await postForm(mine, '/me/password', { current: PW, password: 'Walnut-Glacier-Sonnet-2718', confirm: 'Walnut-Glacier-Sonnet-2718' });
    expect(r.statusCode, r.body).toBe(303);
    expect(r.headers.location).toBe('/me?notice=changed');
    expect((await get(mine, '/me')).statusCode).toBe(200);
    expect((await get(other, '/me')).statusCode).toBe(303);
    const wrong = await postForm(mine, '/me/password', { current: 'not-it', password: 'Another-Fine-Phrase-99', confirm: 'Another-Fine-Phrase-99' });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.body).toContain('The current password is not correct');
  });
});
