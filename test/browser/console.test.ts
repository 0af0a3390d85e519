import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { bulkMailboxes, type PageProblems } from '../../harness/console.js';
import { answersEverywhere, cast, expectCleanPage, signedIn, startConsoleFixture, type ConsoleFixture } from '../helpers/console.js';
import { requireParts } from '../helpers/parts.js';

// Some functions below run in the page, not in Node: its globals, loosely typed (no DOM lib here).
declare const document: any, navigator: any;

/**
 * The web console (issue 12) in Debian's Chromium, every flow as a person does
 * it, against three real daemons on one database (node ids mail1-…, mail2-…,
 * mail3-…; no Dovecot: each node still applies and confirms a change). Names
 * are the accessible names of CONSOLE.md. Every page visited is checked for
 * console errors, CSP violations and serious accessibility violations (axe).
 * The daemons are shared by the file; each test has its own domain.
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

/**
 * A refused form (a wrong sign-in: 401, a mistyped delete confirmation: 422)
 * answers with that status, which Chromium logs as a failed load: expected where
 * a test is refused on purpose. Takes those pages' entries out and counts them.
 */
function refusedLoads(problems: PageProblems, status: number): number {
  const expected = (e: string) => new RegExp(`: Failed to load resource: the server responded with a status of ${status} \\([A-Za-z ]+\\)$`).test(e);
  const n = problems.consoleErrors.filter(expected).length;
  problems.consoleErrors.splice(0, problems.consoleErrors.length, ...problems.consoleErrors.filter((e) => !expected(e)));
  return n;
}

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { name, level: 1 });

/** Opens a row's gear menu and picks an item (mouse). */
async function act(page: Page, address: string, item: string): Promise<void> {
  await page.getByRole('button', { name: `Actions for ${address}` }).click();
  await page.getByRole('menu').getByRole('menuitem', { name: item }).click();
}

/** The per-node list and summary after a change's Confirm. */
async function liveResult(dialog: Locator, nodeIds: string[]): Promise<void> {
  const status = dialog.getByRole('status');
  await status.getByText(/In force on 3 of 3 nodes/).waitFor({ timeout: 20_000 });
  for (const id of nodeIds) {
    const li = status.locator(`li[data-node="${id}"]`);
    expect(await li.getAttribute('data-state'), id).toBe('applied');
    expect(await li.textContent()).toContain(id);
  }
  expect(await status.locator('li[data-node]').count()).toBe(3);
}

describe('a mailbox owner', () => {
  it('signs in, sees their page, changes their password with the current one; the old one stops working on every node', { timeout: TIMEOUT }, async () => {
    const { owner } = await cast(f, 'own');
    const { page, problems } = await signedIn(f, owner);
    expect(new URL(page.url()).pathname).toBe('/me');
    await heading(page, 'My mailbox').waitFor();
    await page.getByText('Password last changed').waitFor();
    await page.getByText('Expires').first().waitFor();
    await expectCleanPage(page, problems);

    const fresh = 'Quartz-Meadow-Pilot-77';
    await page.getByLabel('Current password').fill(owner.password);
    await page.getByLabel('New password', { exact: true }).fill(fresh);
    await page.getByLabel('Confirm new password').fill(fresh);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Your password was changed.').waitFor({ timeout: 20_000 });
    await expectCleanPage(page, problems);

    expect(await answersEverywhere(f, owner.address, owner.password)).toEqual(['password_mismatch', 'password_mismatch', 'password_mismatch']);
    expect(await answersEverywhere(f, owner.address, fresh)).toEqual(['ok', 'ok', 'ok']);

    // The console itself no longer takes the old password either.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login$/);
    await page.getByLabel('Email address').fill(owner.address);
    await page.getByLabel('Password', { exact: true }).fill(owner.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('Wrong address or password').waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(refusedLoads(problems, 401)).toBe(1);
    await expectCleanPage(page, problems);
  });

  it('is refused the admin pages (404), and a wrong password at sign-in says only "Wrong address or password"', { timeout: TIMEOUT }, async () => {
    const { owner, domain } = await cast(f, 'nosy');
    const { page, problems } = await f.context();
    await page.goto(`${f.base}/login`);
    await heading(page, 'Sign in').waitFor();
    await expectCleanPage(page, problems);
    await page.getByLabel('Email address').fill(owner.address);
    await page.getByLabel('Password', { exact: true }).fill('not-the-password-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect((await page.getByRole('alert').textContent())?.trim()).toContain('Wrong address or password');
    expect(refusedLoads(problems, 401)).toBe(1);
    await expectCleanPage(page, problems);

    const own = await signedIn(f, owner);
    for (const path of ['/domains', `/domains/${domain}`, '/cluster', '/audit']) {
      const res = await own.page.goto(`${f.base}${path}`);
      expect(res?.status(), path).toBe(404);
    }
  });
});

describe('an administrator', () => {
  it('lists domains, adds one, edits its policy', { timeout: TIMEOUT }, async () => {
    const { admin, grantGlobal } = await cast(f, 'dom');
    await grantGlobal();
    const { page, problems } = await signedIn(f, admin);
    expect(new URL(page.url()).pathname).toBe('/domains');
    await heading(page, 'Domains').waitFor();
    for (const col of ['Domain', 'Mailboxes', 'Policy', 'Status']) await page.getByRole('columnheader', { name: col, exact: true }).waitFor();
    await expectCleanPage(page, problems);

    const added = f.domain('new');
    await page.getByLabel('Domain name').fill(added);
    await page.getByRole('button', { name: 'Add domain' }).click();
    await page.getByRole('link', { name: added }).waitFor();
    await expectCleanPage(page, problems);

    await page.getByRole('link', { name: added }).click();
    await heading(page, added).waitFor();
    await expectCleanPage(page, problems);
    await page.getByRole('link', { name: 'Edit policy' }).click();
    await heading(page, 'Password policy').waitFor();
    for (const l of ['Minimum length', 'Maximum age (days)', 'Passwords remembered', 'Minimum strength']) await page.getByLabel(l).waitFor();
    await expectCleanPage(page, problems);
    await page.getByLabel('Minimum length').fill('16');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('Policy saved.').waitFor();
    await page.reload();
    expect(await page.getByLabel('Minimum length').inputValue()).toBe('16');

    // The new policy is what the change dialog then shows before anyone types.
    await f.daemons[0]!.cliOk(['mailbox', 'add', `carol@${added}`, '--password-stdin'], 'Velvet-Harbor-Cactus-31');
    await page.goto(`${f.base}/domains/${added}`);
    await act(page, `carol@${added}`, 'Change password');
    const dialog = page.getByRole('dialog', { name: `Change password for carol@${added}` });
    await dialog.getByText(/16 characters/).waitFor();
  });

  it('searches and pages through a domain of 120 mailboxes (50 a page), every column headed; resetting a second factor asks first', { timeout: TIMEOUT }, async () => {
    const { domain, admin, owner, grantDomain } = await cast(f, 'page');
    await grantDomain();
    await bulkMailboxes(f.databaseUrl, domain, 120, owner.address);
    const { page, problems } = await signedIn(f, admin);
    await page.goto(`${f.base}/domains/${domain}`);
    await heading(page, domain).waitFor();
    for (const col of ['Address', 'Name', 'Status', 'Password age', 'Expires', 'Actions']) await page.getByRole('columnheader', { name: col, exact: true }).waitFor();
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBe(50);
    const first = await rows.first().textContent();
    await expectCleanPage(page, problems);

    await page.getByRole('link', { name: 'Next page' }).click();
    await page.waitForURL(/after=|cursor=|page=/);
    expect(await rows.count()).toBe(50);
    expect(await rows.first().textContent()).not.toBe(first);
    const second = await rows.first().textContent();
    // The next page loaded in full (its first row can be there while the parser is still on the rest).
    const onSecond = page.url();
    await page.getByRole('link', { name: 'Next page' }).click();
    await page.waitForURL((u) => u.href !== onSecond);
    expect(await rows.first().textContent()).not.toBe(second);
    expect(await rows.count()).toBe(122 - 100); // 120 + alice + boss
    expect(await page.getByRole('link', { name: 'Next page' }).count()).toBe(0);
    const onThird = page.url();
    await page.getByRole('link', { name: 'Previous page' }).click();
    await page.waitForURL((u) => u.href !== onThird);
    expect(await rows.first().textContent()).toBe(second);
    await expectCleanPage(page, problems);

    await page.getByLabel('Search mailboxes').fill('person 00077');
    await page.getByLabel('Search mailboxes').press('Enter');
    await page.waitForURL(/[?&]q=/);
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain(`user00077@${domain}`);
    await expectCleanPage(page, problems);

    // Resetting a second factor asks first: Cancel leaves it; the page's button does it.
    const target = `user00077@${domain}`;
    await act(page, target, 'Reset second factor');
    await heading(page, `Reset the second factor of ${target}?`).waitFor();
    await expectCleanPage(page, problems);
    await page.getByRole('link', { name: 'Cancel' }).click();
    await heading(page, domain).waitFor();
    await page.getByLabel('Search mailboxes').fill('person 00077');
    await page.getByLabel('Search mailboxes').press('Enter');
    await page.waitForURL(/[?&]q=/);
    await act(page, target, 'Reset second factor');
    await page.getByRole('button', { name: 'Reset second factor' }).click();
    await page.getByText(`${target} has no second factor: nothing to reset.`).waitFor();
    await expectCleanPage(page, problems);
  });

  it('adds a mailbox; changes a password with the rules shown first, refusals live, Generate + Copy, and the per-node confirmation', { timeout: TIMEOUT }, async () => {
    const { domain, admin, grantDomain } = await cast(f, 'chg');
    await grantDomain();
    const { page, problems, context } = await signedIn(f, admin, { permissions: ['clipboard-read', 'clipboard-write'] });
    await page.goto(`${f.base}/domains/${domain}`);

    // Add mailbox (dialog), with a password the policy takes.
    const address = `dora.vink@${domain}`;
    await page.getByRole('button', { name: 'Add mailbox' }).click();
    const add = page.getByRole('dialog');
    await add.getByLabel('Address').fill(address);
    await add.getByLabel('Name').fill('Dora Vink');
    await add.getByLabel('Password', { exact: true }).fill('Lichen-Tuba-Saffron-58');
    await expectCleanPage(page, problems);
    await add.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('rowheader', { name: address, exact: true }).waitFor();
    expect(await answersEverywhere(f, address, 'Lichen-Tuba-Saffron-58')).toEqual(['ok', 'ok', 'ok']);

    // Change password: the rules are there before anything is typed.
    await act(page, address, 'Change password');
    const dialog = page.getByRole('dialog', { name: `Change password for ${address}` });
    await dialog.waitFor();
    const rules = dialog.getByRole('list').filter({ has: page.locator('li[data-rule]') });
    await dialog.getByText('Requirements').waitFor();
    expect(await rules.locator('li[data-rule]').count()).toBeGreaterThanOrEqual(3);
    await dialog.getByText(/12 characters/).waitFor();
    expect(await dialog.locator('li[data-rule][data-state="failed"]').count()).toBe(0);
    expect(await dialog.getByRole('meter', { name: 'Strength' }).count()).toBe(1);
    await expectCleanPage(page, problems);

    // Refusals show the rule, live.
    const field = dialog.getByLabel('New password', { exact: true });
    await field.fill('short1!');
    await dialog.locator('li[data-rule][data-state="failed"]', { hasText: /12 characters/ }).waitFor();
    await field.fill('DoraVink-Quasar-88');
    await dialog.locator('li[data-rule][data-state="failed"]', { hasText: /name/i }).first().waitFor();
    await expectCleanPage(page, problems);

    // Generate: the field is filled and the password shown once, with Copy.
    await dialog.getByRole('button', { name: 'Generate' }).click();
    const shown = dialog.getByLabel('Generated password');
    await shown.waitFor();
    const generated = await shown.inputValue();
    expect(generated.length).toBeGreaterThanOrEqual(12);
    expect(await shown.getAttribute('readonly')).not.toBeNull();
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await page.waitForFunction((g) => navigator.clipboard.readText().then((t: string) => t === g), generated);
    // The rules are re-checked for the generated password (pending until the answer): every one passes.
    await expect.poll(() => dialog.locator('li[data-rule]:not([data-state="ok"])').count(), { timeout: 20_000 }).toBe(0);
    expect(await dialog.locator('li[data-rule][data-state="ok"]').count()).toBeGreaterThanOrEqual(3);
    await expectCleanPage(page, problems);

    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await liveResult(dialog, f.daemons.map((d) => d.nodeId));
    await expectCleanPage(page, problems);
    expect(await answersEverywhere(f, address, generated)).toEqual(['ok', 'ok', 'ok']);
    expect(await answersEverywhere(f, address, 'Lichen-Tuba-Saffron-58')).toEqual(['password_mismatch', 'password_mismatch', 'password_mismatch']);
    await context.close();
  });

  it('disables and enables a mailbox, closes its sessions, deletes it after typing its address', { timeout: TIMEOUT }, async () => {
    const { domain, admin, owner, grantDomain } = await cast(f, 'life');
    await grantDomain();
    const { page, problems } = await signedIn(f, admin);
    await page.goto(`${f.base}/domains/${domain}`);
    const row = page.locator('tbody tr', { hasText: owner.address });

    await act(page, owner.address, 'Disable');
    await row.getByText('Disabled').waitFor();
    expect((await answersEverywhere(f, owner.address, owner.password)).some((r) => r === 'ok')).toBe(false);
    await expectCleanPage(page, problems);

    await act(page, owner.address, 'Enable');
    await row.getByText('Enabled').waitFor();
    expect(await answersEverywhere(f, owner.address, owner.password)).toEqual(['ok', 'ok', 'ok']);

    // Close sessions: a kick for this mailbox goes to every node (without Dovecot there is nobody to kick).
    const kicks = async () => Number((await f.pool.query("SELECT count(*) AS n FROM invalidations WHERE address = $1 AND kick AND reason <> 'rotate'", [owner.address])).rows[0].n);
    const before = await kicks();
    await act(page, owner.address, 'Close sessions');
    await page.getByRole('status').filter({ hasText: owner.address }).waitFor({ timeout: 20_000 });
    expect(await kicks()).toBeGreaterThan(before);
    await expectCleanPage(page, problems);

    await act(page, owner.address, 'Delete');
    const confirm = page.getByLabel('Type the address to confirm');
    await confirm.fill(`x${owner.address}`);
    await page.getByRole('button', { name: 'Delete mailbox' }).click();
    // A mistyped address deletes nothing: the server answers the domain page again with the refusal (422).
    await page.getByRole('alert').getByText('The address typed does not match').waitFor();
    expect(await answersEverywhere(f, owner.address, owner.password)).toEqual(['ok', 'ok', 'ok']);
    expect(refusedLoads(problems, 422)).toBe(1);
    await act(page, owner.address, 'Delete');
    await confirm.fill(owner.address);
    await page.getByRole('button', { name: 'Delete mailbox' }).click();
    await page.getByText(`Mailbox ${owner.address} deleted.`).waitFor();
    expect(await page.getByRole('rowheader', { name: owner.address, exact: true }).count()).toBe(0);
    expect(await answersEverywhere(f, owner.address, owner.password)).toEqual(['user_unknown', 'user_unknown', 'user_unknown']);
    await expectCleanPage(page, problems);
  });

  it('sees the three nodes on the cluster page and filters the audit log by mailbox', { timeout: TIMEOUT }, async () => {
    const { domain, admin, owner, grantGlobal } = await cast(f, 'aud');
    await grantGlobal();
    const other = `zed@${domain}`;
    await f.daemons[0]!.cliOk(['mailbox', 'add', other, '--password-stdin'], 'Fjord-Pumice-Walrus-64');
    await f.daemons[0]!.cliOk(['rotate', owner.address, '--generate']);
    const { page, problems } = await signedIn(f, admin);

    await page.goto(`${f.base}/cluster`);
    await heading(page, 'Cluster').waitFor();
    for (const col of ['Node', 'State', 'Lag', 'Last error']) await page.getByRole('columnheader', { name: col, exact: true }).waitFor();
    for (const d of f.daemons) await page.getByRole('rowheader', { name: d.nodeId, exact: true }).waitFor();
    await expectCleanPage(page, problems);

    await page.goto(`${f.base}/audit`);
    await heading(page, 'Audit log').waitFor();
    await page.getByLabel('Mailbox', { exact: true }).fill(owner.address);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/\?/);
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(2); // created, rotated
    for (const text of await rows.allTextContents()) {
      expect(text).toContain(owner.address);
      expect(text).not.toContain(other);
    }
    await expectCleanPage(page, problems);
  });

  it('does the change with the keyboard alone: Enter opens the gear, arrows + Enter pick, Enter confirms; focus returns to the gear', { timeout: TIMEOUT }, async () => {
    const { domain, admin, owner, grantDomain } = await cast(f, 'kbd');
    await grantDomain();
    const { page, problems } = await signedIn(f, admin);
    await page.goto(`${f.base}/domains/${domain}`);
    const gear = page.getByRole('button', { name: `Actions for ${owner.address}` });
    await gear.focus();
    await page.keyboard.press('Enter');
    const menu = page.getByRole('menu');
    await menu.waitFor();
    // Arrow to "Change password" from wherever the menu put the focus.
    const focusedItem = () => page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
    for (let i = 0; i < 6 && (await focusedItem()) !== 'Change password'; i++) await page.keyboard.press('ArrowDown');
    expect(await focusedItem()).toBe('Change password');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: `Change password for ${owner.address}` });
    await dialog.waitFor();
    const field = dialog.getByLabel('New password', { exact: true });
    for (let i = 0; i < 10 && !(await field.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
    expect(await field.evaluate((el) => el === document.activeElement)).toBe(true);
    const fresh = 'Ember-Gondola-Thistle-23';
    await page.keyboard.type(fresh);
    await dialog.locator('li[data-rule][data-state="ok"]').first().waitFor();
    await page.keyboard.press('Enter');
    await liveResult(dialog, f.daemons.map((d) => d.nodeId));
    expect(await answersEverywhere(f, owner.address, fresh)).toEqual(['ok', 'ok', 'ok']);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await gear.evaluate((el) => el === document.activeElement)).toBe(true);
    await expectCleanPage(page, problems);
  });
});

describe('in Dutch', () => {
  it('answers an nl-NL browser (Accept-Language) in Dutch: sign-in, domains, change password, sign out', { timeout: TIMEOUT }, async () => {
    const { admin, grantGlobal } = await cast(f, 'nl');
    await grantGlobal();
    const { page, problems } = await f.context({ locale: 'nl-NL' });
    await page.goto(`${f.base}/login`);
    await heading(page, 'Inloggen').waitFor();
    await page.getByLabel('E-mailadres').fill(admin.address);
    await page.getByLabel('Wachtwoord', { exact: true }).fill(admin.password);
    await expectCleanPage(page, problems);
    await page.getByRole('button', { name: 'Inloggen' }).click();
    await heading(page, 'Domeinen').waitFor();
    await page.getByRole('button', { name: 'Uitloggen' }).waitFor();
    await expectCleanPage(page, problems);
    await page.goto(`${f.base}/me`);
    await page.getByRole('button', { name: 'Wachtwoord wijzigen' }).waitFor();
    await expectCleanPage(page, problems);
    await page.getByRole('button', { name: 'Uitloggen' }).click();
    await page.waitForURL(/\/login$/);
  });
});
