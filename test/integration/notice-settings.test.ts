import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/postgres.js';
import { adminToken, seedMailbox, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

/** Where notices go and in which language, set through the CLI and the admin API of a real daemon. */
let db: { url: string; drop(): Promise<void> };
let d: TestDaemon;
let token: string;
const PW = 'Correct-Horse-Battery-9';

async function patch(path: string, body: unknown) {
  const res = await fetch(`${d.adminUrl}${path}`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  db = await createTestDatabase();
  d = await startTestDaemon({ databaseUrl: db.url, nodeId: 'notice-settings' });
  await seedMailbox(d, 'ann@settings.example', PW);
  token = await adminToken(d);
}, 120_000);

afterAll(async () => {
  await d?.stop();
  await db?.drop();
});

describe('recovery address and notice language', () => {
  it('CLI: mailbox add/patch --recovery-address and --language, shown by mailbox show', async () => {
    await d.cliOk(['mailbox', 'add', 'ben@settings.example', '--password-stdin', '--recovery-address', 'Ben@Home.Example', '--language', 'nl'], PW);
    expect(JSON.parse(await d.cliOk(['--json', 'mailbox', 'show', 'ben@settings.example']))).toMatchObject({ recovery_address: 'ben@home.example', notice_language: 'nl' });
    expect(await d.cliOk(['mailbox', 'show', 'ben@settings.example'])).toMatch(/^recovery_address\s+ben@home\.example$/m);
    await d.cliOk(['mailbox', 'patch', 'ben@settings.example', '--recovery-address', 'none', '--language', 'none']);
    expect(JSON.parse(await d.cliOk(['--json', 'mailbox', 'show', 'ben@settings.example']))).toMatchObject({ recovery_address: null, notice_language: null });
    const bad = await d.cli(['mailbox', 'patch', 'ben@settings.example', '--language', 'fr']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/language "fr" has no notice templates/);
    expect((await d.cli(['mailbox', 'patch', 'ben@settings.example', '--recovery-address', 'not an address'])).code).toBe(64);
  });

  it('API: PATCH /v1/mailboxes/<a> recovery_address and notice_language', async () => {
    const r = await patch('/v1/mailboxes/ann@settings.example', { recovery_address: 'ann@elsewhere.example', notice_language: 'nl' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ recovery_address: 'ann@elsewhere.example', notice_language: 'nl' });
    expect((await patch('/v1/mailboxes/ann@settings.example', { notice_language: 'de' })).status).toBe(400);
    expect((await patch('/v1/mailboxes/ann@settings.example', { recovery_address: null })).body).toMatchObject({ recovery_address: null });
  });

  it('domain notices on|off: CLI and PATCH /v1/domains/<d>', async () => {
    expect(await d.cliOk(['domain', 'notices', 'settings.example', 'off', '--language', 'nl'])).toContain('notices off, language nl');
    const shown = await patch('/v1/domains/settings.example', { notices: true });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ name: 'settings.example', notices: true, notice_language: 'nl', enabled: true, invalidated: 0 });
    expect(JSON.parse(await d.cliOk(['--json', 'domain', 'notices', 'settings.example']))).toMatchObject({ notices: true, notice_language: 'nl' });
    expect((await d.cli(['domain', 'notices', 'settings.example', 'maybe'])).code).toBe(64);
  });
});
