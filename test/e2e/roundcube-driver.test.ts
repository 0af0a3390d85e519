/**
 * Roundcube's password plugin with mailpassd's own driver (config/roundcube/
 * mailpassd.php + password.inc.php, installed as the README says), in a real
 * browser: Debian's Roundcube 1.6 (php -S, SQLite), Chromium, Dovecot 2.3 with
 * the shipped Lua passdb, one mailpassd daemon on its own PostgreSQL.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../harness/chromium.js';
import { startRoundcube, type Roundcube } from '../../harness/roundcube.js';
import { seedMailbox } from '../helpers/daemon.js';
import { freePort, startDovecot, startE2eBackend, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import { freshLoopback, imapLogin } from '../helpers/imap.js';
import { requireParts } from '../helpers/parts.js';
import { waitFor } from '../helpers/wait.js';

const describe = requireParts(['root', 'roundcube', 'chromium', 'dovecot23']);

const AUTH_SECRET = 'rc-e2e-auth-secret-0123456789abcdef';
const DRIVER_SECRET = 'rc-e2e-driver-secret-0123456789abc';
const API_KEY = 'rc-e2e-doveadm-api-key-0123456789';
const DOMAIN = 'webmail.example.org';
const PW = 'Harbor-Violet-Quokka-51-Stencil';
const NEXT = 'Glacier-Orbit-Pumice-87-Lantern';

let backend: E2eBackend;
let dc: DovecotInstance;
let rc: Roundcube;
let browser: Browser;

/** A mailbox of its own per test: every test starts from PW. Display name "<Given> Martin". */
let mailboxes = 0;
async function mailbox(given: string): Promise<string> {
  const address = `${given.toLowerCase()}${++mailboxes}@${DOMAIN}`;
  await seedMailbox(backend.daemon, address, PW, `${given} Martin`);
  return address;
}

const imap = async (user: string, password: string) => (await imapLogin(dc.imapPort, user, password, { localAddress: freshLoopback() })).status;

/** Signs in (a fresh browser context: its own cookies and language) and opens the password page. */
async function passwordPage(user: string, password: string, locale = 'en-US'): Promise<Page> {
  const context = await browser.newContext({ locale, extraHTTPHeaders: { 'Accept-Language': locale } });
  const page = await context.newPage();
  await page.goto(`${rc.url}/`);
  await page.fill('#rcmloginuser', user);
  await page.fill('#rcmloginpwd', password);
  await Promise.all([page.waitForURL(/_task=mail/), page.click('#rcmloginsubmit')]);
  await page.goto(`${rc.url}/?_task=settings&_action=plugin.password`);
  await page.waitForSelector('#newpasswd');
  return page;
}

/** Fills the form, saves, and returns the message Roundcube shows. */
async function save(page: Page, current: string, next: string): Promise<string> {
  await page.fill('#curpasswd', current);
  await page.fill('#newpasswd', next);
  await page.fill('#confpasswd', next);
  await page.click('button.mainaction.submit');
  const message = page.locator('#messagestack div').last();
  await message.waitFor();
  return (await message.textContent()) ?? '';
}

/** One statement on the backend's database, on a connection of its own. */
async function queryBackend<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: backend.cluster.url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function credentialVersion(address: string): Promise<number> {
  const [row] = await queryBackend<{ credential_version: number }>('SELECT credential_version FROM mailboxes WHERE address = $1', [address]);
  return row!.credential_version;
}

/** Whether the daemon (the one node, which flushes Dovecot's cache) has applied every invalidation of `address`, and there is one. */
async function changeApplied(address: string): Promise<boolean> {
  const [r] = await queryBackend<{ total: number; applied: number }>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE n.applied_invalidation_id >= i.id)::int AS applied
       FROM invalidations i JOIN nodes n ON n.node_id = $2 WHERE i.address = $1`,
    [address, backend.daemon.nodeId],
  );
  return r!.total > 0 && r!.applied === r!.total;
}

beforeAll(async () => {
  const doveadmHttpPort = await freePort();
  backend = await startE2eBackend({
    MAILPASSD_AUTH_SECRET: AUTH_SECRET,
    MAILPASSD_SELF_SERVICE_SECRET: DRIVER_SECRET,
    // mailpassd flushes Dovecot's auth cache and kicks sessions on a change.
    MAILPASSD_DOVEADM: `http://127.0.0.1:${doveadmHttpPort}/doveadm/v1`,
    MAILPASSD_DOVEADM_API_KEY: API_KEY,
  });
  const domain = await backend.daemon.cli(['domain', 'add', DOMAIN]);
  expect(domain.code, domain.stderr).toBe(0);
  dc = await startDovecot({ authUrl: backend.daemon.authUrl, authSecret: AUTH_SECRET, passdb: 'lua', doveadmApiKey: API_KEY, doveadmHttpPort });
  rc = await startRoundcube({
    imapPort: dc.imapPort,
    passwordSettings: {
      password_mailpassd_url: `'${backend.daemon.adminUrl}'`,
      password_mailpassd_secret: `'${DRIVER_SECRET}'`,
    },
  });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  if (process.env.MAILPASSD_E2E_VERBOSE) console.log(rc?.log(), dc?.log());
  await browser?.close();
  await rc?.stop();
  await dc?.stop();
  await backend?.stop();
});

describe('Roundcube password plugin with the mailpassd driver (Chromium)', () => {
  it('lists mailpassd\'s rules for the mailbox\'s domain before anything is typed', async () => {
    const user = await mailbox('Anna');
    const page = await passwordPage(user, PW);
    const rules = await page.locator('#ruleslist li').allTextContents();
    expect(rules).toEqual(expect.arrayContaining(['At least 12 characters', 'Not your first or last name', 'Not one of your last 5 passwords']));
    await page.context().close();
  });

  it('refuses a password with the user\'s name in it, naming the rule; nothing changes', async () => {
    const user = await mailbox('Bella');
    const page = await passwordPage(user, PW);
    const before = await credentialVersion(user);
    const message = await save(page, PW, 'Martin-Quasar-Tundra-77');
    // Refused by the strength check, before the change was sent.
    expect(message).toBe('Password too weak. The password must not contain the account holder\'s first or last name.');
    expect(await credentialVersion(user)).toBe(before);
    expect(await imap(user, PW)).toBe('OK');
    await page.context().close();
  });

  it('refuses a password used before with "used before"', async () => {
    const user = await mailbox('Chloe');
    // PW goes into the history: an administrator set NEXT since.
    await backend.daemon.cliOk(['rotate', user, '--password-stdin'], NEXT);
    const page = await passwordPage(user, NEXT);
    const message = await save(page, NEXT, PW);
    // Through save(): the strength check leaves reuse to the change, which names it.
    expect(message).toBe('Could not save new password. The password was used before; choose one not among the last 5.');
    expect(await imap(user, NEXT)).toBe('OK');
    await page.context().close();
  });

  it('saves a good password ("Successfully saved."); IMAP then takes only the new one', async () => {
    const user = await mailbox('Dora');
    const page = await passwordPage(user, PW);
    expect(await imap(user, PW)).toBe('OK'); // Dovecot's auth cache now holds PW
    const message = await save(page, PW, NEXT);
    expect(message).toBe('Successfully saved.');
    // The driver's answer waits at most 2 s for the change to reach Dovecot; on a loaded machine the flush can come after it.
    await waitFor('the change applied on the node (Dovecot flushed)', 15_000, () => changeApplied(user), 100);
    expect(await imap(user, NEXT)).toBe('OK');
    expect(await imap(user, PW)).toBe('NO');
    await page.context().close();
  });

  it('a Dutch user reads the rules and the refusal in Dutch', async () => {
    const user = await mailbox('Eva');
    const page = await passwordPage(user, PW, 'nl-NL');
    const rules = await page.locator('#ruleslist li').allTextContents();
    expect(rules).toEqual(expect.arrayContaining(['Minstens 12 tekens', 'Niet een van je laatste 5 wachtwoorden']));
    const message = await save(page, PW, 'Martin-Quasar-Tundra-77');
    expect(message).toBe('Uw wachtwoord is niet sterk genoeg. Het wachtwoord mag de voor- of achternaam van de accounthouder niet bevatten.');
    await page.context().close();
  });

  it('mailpassd down: a clear failure, and nothing is changed', async () => {
    const user = await mailbox('Fenna');
    const page = await passwordPage(user, PW);
    const before = await credentialVersion(user);
    await backend.daemon.stop();
    const message = await save(page, PW, NEXT);
    expect(message).toBe('Could not save new password. Connection error. The password service is unavailable; your password was not changed. Please try again later.');
    expect(await credentialVersion(user)).toBe(before);
    await page.context().close();
  });
});
