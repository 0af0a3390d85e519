import { afterAll, beforeAll, expect, it } from 'vitest';
import { Secret, TOTP } from 'otpauth';
import { answersEverywhere, cast, expectCleanPage, signedIn, startConsoleFixture, type ConsoleFixture } from '../helpers/console.js';
import { requireParts } from '../helpers/parts.js';

/**
 * Issue 13 in Debian's Chromium: an owner's app passwords on /me (created,
 * shown once, used through /v1/passdb/verify, revoked on every node), and the
 * two-factor sign-in (enrolment with a code computed here from the key shown,
 * then a sign-in with password and code). Every page is checked like the
 * other console tests: no console error, no CSP violation, axe clean.
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

describe('app passwords and two-factor on /me', () => {
  it('creates an app password shown once, it logs in to imap on every node; revoking it confirms per node and it is refused', { timeout: TIMEOUT }, async () => {
    const { owner } = await cast(f, 'app');
    const { page, problems } = await signedIn(f, owner);
    await page.getByRole('heading', { name: 'App passwords' }).waitFor();
    await page.getByText('No app passwords yet.').waitFor();
    await page.getByLabel('Device name').fill('Laptop');
    await page.getByRole('checkbox', { name: 'POP3' }).uncheck();
    await page.getByLabel('Expires after (days, optional)').fill('30');
    await page.getByRole('button', { name: 'Create app password' }).click();

    const field = page.getByLabel('App password', { exact: true });
    await field.waitFor();
    expect(await field.getAttribute('readonly')).not.toBeNull();
    const password = await field.inputValue();
    expect(password).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
    await page.getByText('It will not be shown again').waitFor();
    // Copy is unhidden by the page's module script, which may run after the field is already there.
    await page.getByRole('button', { name: 'Copy' }).waitFor();
    const row = page.locator('tr[data-app-password="Laptop"]');
    expect(await row.textContent()).toContain('imap, smtp, sieve');
    await expectCleanPage(page, problems);
    expect(await answersEverywhere(f, owner.address, password)).toEqual(['ok', 'ok', 'ok']);

    // Shown once: the page again has the row, not the password.
    await page.goto(`${f.base}/me`);
    expect(await page.getByLabel('App password', { exact: true }).count()).toBe(0);
    expect(await page.locator('tr[data-app-password="Laptop"]').textContent()).toMatch(/from 127\.0\.0\.1 \(imap\)|never/);

    await page.getByRole('button', { name: 'Revoke Laptop' }).click();
    await page.getByRole('heading', { name: 'Revoke app password "Laptop"?' }).waitFor();
    await expectCleanPage(page, problems);
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    const status = page.locator('[data-progress]');
    await status.getByText('"Laptop" revoked on 3 of 3 nodes.').waitFor();
    expect(await status.locator('li[data-node][data-state="applied"]').count()).toBe(3);
    await expectCleanPage(page, problems);
    expect(await answersEverywhere(f, owner.address, password)).toEqual(['password_mismatch', 'password_mismatch', 'password_mismatch']);
  });

  it('enrols TOTP with the key shown, shows recovery codes once; after signing out, signing in asks for the code', { timeout: TIMEOUT }, async () => {
    const { owner } = await cast(f, 'totp');
    const { page, problems } = await signedIn(f, owner);
    await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    await page.getByRole('heading', { name: 'Set up two-factor authentication', level: 1 }).waitFor();
    const qr = page.getByRole('img', { name: 'QR code for the authenticator app' });
    expect(await qr.evaluate((img: { naturalWidth: number }) => img.naturalWidth)).toBeGreaterThan(0);
    const secret = (await page.locator('[data-totp-secret]').textContent())!.trim();
    const totp = new TOTP({ issuer: 'mailpassd', label: owner.address, secret: Secret.fromBase32(secret) });
    await expectCleanPage(page, problems);
    await page.getByLabel('Code', { exact: true }).fill(totp.generate());
    await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
    await page.getByRole('heading', { name: 'Recovery codes' }).waitFor();
    expect(await page.locator('[data-recovery-codes] li').count()).toBe(10);
    await expectCleanPage(page, problems);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.pathname === '/login');
    await page.getByLabel('Email address').fill(owner.address);
    await page.getByLabel('Password', { exact: true }).fill(owner.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/login/code');
    await expectCleanPage(page, problems);
    // The next 30 s step: each step is accepted once, and enrolment used this one.
    await page.getByLabel('Code (or a recovery code)').fill(totp.generate({ timestamp: Date.now() + 30_000 }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL((u) => u.pathname === '/me');
    await page.getByText(/On\. 10 unused recovery code\(s\) left\./).waitFor();
    await expectCleanPage(page, problems);
  });
});
