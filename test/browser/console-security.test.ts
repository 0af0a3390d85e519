import { afterAll, beforeAll, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { Locator, Page } from 'playwright-core';
import { signIn } from '../../harness/console.js';
import { freePort } from '../../harness/process.js';
import { verify } from '../helpers/daemon.js';
import { cast, expectCleanPage, signedIn, startConsoleFixture, type ConsoleFixture } from '../helpers/console.js';
import { requireParts } from '../helpers/parts.js';

/**
 * The console's security as a browser meets it (issue 12): a domain admin who
 * edits URLs, a cross-origin form, an idle session, sign-out, and a password
 * change ending the mailbox's other sessions. Three daemons on one database,
 * each test with its own domain.
 */
const describe = requireParts(['chromium']);

let f: ConsoleFixture;
beforeAll(async () => {
  f = await startConsoleFixture();
});
afterAll(async () => {
  await f?.close();
});

const TIMEOUT = 120_000;

/** The form a menu item or button submits, as the page would send it: absolute action and every field (the CSRF token included). */
async function formOf(control: Locator): Promise<{ action: string; method: string; fields: Record<string, string> }> {
  return control.evaluate((el) => {
    const b = el as any;
    const form = b.form ?? b.closest('form');
    if (!form) throw new Error(`no form around ${b.outerHTML}`);
    const fields: Record<string, string> = {};
    new (globalThis as any).FormData(form).forEach((v: unknown, k: string) => (fields[k] = String(v)));
    if (b.name) fields[b.name] = b.value;
    return { action: b.getAttribute('formaction') ? b.formAction : form.action, method: (form.getAttribute('method') ?? 'get').toLowerCase(), fields };
  });
}

/** The form the "Disable" item of a row's gear menu submits. */
async function disableForm(page: Page, address: string) {
  const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: address, exact: true }) });
  const form = await formOf(row.getByRole('menuitem', { name: 'Disable', includeHidden: true }));
  expect(form.action, 'the Disable form names the mailbox').toMatch(new RegExp(`${address.replace(/[.]/g, '\\.')}|${encodeURIComponent(address)}`));
  return form;
}

describe('a domain administrator editing URLs', () => {
  it('gets 404 for another domain\'s pages and for an action POST on its mailbox, and nothing changes there', { timeout: TIMEOUT }, async () => {
    const mine = await cast(f, 'mine');
    const theirs = await cast(f, 'theirs');
    await mine.grantDomain();
    const { page, context, problems } = await signedIn(f, mine.admin);
    await page.goto(`${f.base}/domains/${mine.domain}`);
    await expectCleanPage(page, problems);
    const own = await disableForm(page, mine.owner.address);

    for (const path of [`/domains/${theirs.domain}`, `/domains/${theirs.domain}/policy`, `/domains/${theirs.domain}?q=alice`, `/domains/nonexistent-${theirs.domain}`]) {
      const res = await page.goto(`${f.base}${path}`);
      expect(res?.status(), path).toBe(404);
    }
    // The same request as the own domain's Disable, its URL pointed at the other domain's mailbox: same origin, valid form token.
    const action = own.action.split(mine.domain).join(theirs.domain);
    expect(action).not.toBe(own.action);
    const res = await context.request.post(action, { form: own.fields, headers: { origin: f.base }, maxRedirects: 0 });
    expect(res.status()).toBe(404);
    expect((await verify(f.daemons[0]!, theirs.owner.address, theirs.owner.password)).body.result).toBe('ok');
    // The audit log of the other domain is not reachable by filter either.
    await page.goto(`${f.base}/audit?target=${encodeURIComponent(theirs.owner.address)}`);
    expect(await page.locator('tbody tr', { hasText: theirs.owner.address }).count()).toBe(0);
  });
});

describe('a cross-origin form', () => {
  let evil: Server;
  let evilUrl = '';
  let page = '';
  beforeAll(async () => {
    const port = await freePort();
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(page);
    });
    await new Promise<void>((r) => evil.listen(port, '127.0.0.1', r));
    evilUrl = `http://127.0.0.1:${port}/`;
  });
  afterAll(async () => {
    await new Promise((r) => evil?.close(r));
  });

  it('from a page on another loopback port is refused with 403, even with the form token and the session cookie, and nothing changes', { timeout: TIMEOUT }, async () => {
    const { domain, admin, owner, grantDomain } = await cast(f, 'xorig');
    await grantDomain();
    const victim = await signedIn(f, admin);
    await victim.page.goto(`${f.base}/domains/${domain}`);
    const form = await disableForm(victim.page, owner.address);
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    page = `<!doctype html><title>prize</title><form id="f" method="post" action="${esc(form.action)}">${Object.entries(form.fields)
      .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
      .join('')}</form><script>document.getElementById('f').submit()</script>`;
    // Same host, another port: the same site for SameSite, so the cookie does travel; the Origin check is what refuses it.
    const answered = victim.page.waitForResponse((r) => r.url() === form.action && r.request().method() === 'POST');
    await victim.page.goto(evilUrl);
    const res = await answered;
    expect(res.request().headers()['origin']).toBe(evilUrl.replace(/\/$/, ''));
    expect(res.status()).toBe(403);
    expect((await verify(f.daemons[0]!, owner.address, owner.password)).body.result).toBe('ok');
    await victim.page.goto(`${f.base}/domains/${domain}`);
    expect(await victim.page.locator('tbody tr', { hasText: owner.address }).getByText('Disabled').count()).toBe(0);
  });
});

describe('sessions', () => {
  it('an idle session ends: the next navigation lands on the sign-in page', { timeout: TIMEOUT }, async () => {
    const { owner } = await cast(f, 'idle');
    const { page, problems } = await signedIn(f, owner);
    await page.goto(`${f.base}/me`);
    // As if the last request had been an hour ago (console.idle_timeout_minutes is 30).
    const aged = await f.pool.query(
      `UPDATE console_sessions SET last_seen_at = now() - interval '1 hour'
        WHERE mailbox_id = (SELECT id FROM mailboxes WHERE address = $1)`,
      [owner.address],
    );
    expect(aged.rowCount).toBe(1);
    await page.goto(`${f.base}/me`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await expectCleanPage(page, problems);
  });

  it('signing out ends the session: the cookie no longer opens a page', { timeout: TIMEOUT }, async () => {
    const { owner } = await cast(f, 'out');
    const { page, context, problems } = await signedIn(f, owner);
    const cookies = await context.cookies();
    const session = cookies.find((c) => /mailpassd_session$/.test(c.name));
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login$/);
    await expectCleanPage(page, problems);
    // Replaying the old cookie (as a stolen one would be) opens nothing.
    const replay = await f.context();
    await replay.context.addCookies([session!]);
    await replay.page.goto(`${f.base}/me`);
    expect(new URL(replay.page.url()).pathname).toBe('/login');
  });

  it('a password change ends the mailbox\'s other session, and keeps the one that made it', { timeout: TIMEOUT }, async () => {
    const { owner } = await cast(f, 'two');
    const laptop = await signedIn(f, owner);
    const phone = await f.context();
    await signIn(phone.page, f.base, owner.address, owner.password);
    expect(new URL(phone.page.url()).pathname).toBe('/me');

    const fresh = 'Saddle-Nimbus-Oyster-19';
    await laptop.page.getByLabel('Current password').fill(owner.password);
    await laptop.page.getByLabel('New password', { exact: true }).fill(fresh);
    await laptop.page.getByLabel('Confirm new password').fill(fresh);
    await laptop.page.getByRole('button', { name: 'Change password' }).click();
    await laptop.page.getByText('Your password was changed.').waitFor({ timeout: 20_000 });

    await phone.page.goto(`${f.base}/me`);
    expect(new URL(phone.page.url()).pathname).toBe('/login');
    await laptop.page.goto(`${f.base}/me`);
    expect(new URL(laptop.page.url()).pathname).toBe('/me');
    await expectCleanPage(laptop.page, laptop.problems);
  });
});
