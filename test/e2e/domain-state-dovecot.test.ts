/**
 * Disabling a domain and demanding a password change, in force on a real
 * Dovecot 2.3 at once (issue 11: fields in the schema are enforced).
 *
 * Dovecot 2.3 with the shipped Lua snippet and its auth cache ON, in front of
 * the real mailpassd on its own PostgreSQL. The daemon that answers Dovecot's
 * passdb requests has MAILPASSD_DOVEADM=none; a node daemon with the local
 * doveadm (as root, which 2.3's kick needs) is the only one that can flush
 * Dovecot's cache and kick its sessions, so what is refused below was refused
 * because the change reached Dovecot, not because Dovecot asked again by luck.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminToken, type TestDaemon } from '../helpers/daemon.js';
import { eventually, startDovecot, startE2eBackend, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import type { ImapSession } from '../helpers/imap.js';
import { REFUSED, RotationScenario, type Account } from '../helpers/rotation-scenario.js';
import { requireParts } from '../helpers/parts.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['root', 'dovecot23']);

const SHUT = 'shut.e2e.example';
const account = (address: string, n: number): Account => ({ address, old: `Harbor-Violet-Quokka-${n}1-Stencil`, new: `Glacier-Orbit-Pumice-${n}7-Lantern` });
const IN_SHUT = account(`quinn@${SHUT}`, 1);
const ELSEWHERE = account('rosa@open.e2e.example', 2);
const MUST = account('sven@must.e2e.example', 3);

let backend: E2eBackend;
let dc: DovecotInstance;
let sc: RotationScenario;
let node: TestDaemon;

/** The node applies invalidations asynchronously: ask the session until the server has ended it (bounded). */
async function kicked(s: ImapSession): Promise<boolean> {
  return eventually(async () => {
    const r = await s.command('NOOP', 10_000);
    return r.status === 'CLOSED' || r.untagged.some((l) => /^\* BYE/.test(l));
  }, 15_000, 100);
}

const cli = async (args: string[]) => {
  const r = await backend.daemon.cli(args);
  expect(r.code, r.stderr).toBe(0);
  return r;
};

beforeAll(async () => {
  backend = await startE2eBackend({ MAILPASSD_DOVEADM: 'none' });
  for (const a of [IN_SHUT, ELSEWHERE, MUST]) await backend.mailbox(a.address, a.old);
  dc = await startDovecot({ authUrl: backend.daemon.authUrl, passdb: 'lua', cache: { size: '10M', ttl: '1 hour' } });
  sc = new RotationScenario(backend, dc, await adminToken(backend.daemon));
  node = await sc.startNode('mail-local-root', { MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_CONFIG: dc.configPath });
});

afterAll(async () => {
  if (process.env.MAILPASSD_E2E_VERBOSE) console.log(dc?.log());
  await sc?.stopAll();
  await dc?.stop();
  await backend?.stop();
});

describe('a disabled domain on Dovecot 2.3', () => {
  it("kicks its open IMAP sessions and refuses its logins (Dovecot had them cached); another domain's mailbox still logs in; enabled again → logs in", async () => {
    const session = await sc.openSession(IN_SHUT); // logged in, and in Dovecot's cache
    try {
      await cli(['domain', 'disable', SHUT, '--reason', 'contract ended']);
      expect(await kicked(session), 'the open session of the disabled domain ended').toBe(true);
    } finally {
      session.close();
    }
    expect((await sc.login(IN_SHUT.address, IN_SHUT.old)).line).toBe(REFUSED);
    const t = await sc.authTest(IN_SHUT.address, IN_SHUT.old);
    expect(t.stdout).toContain(`passdb: ${IN_SHUT.address} auth failed`);
    expect(t.stdout).toContain('code=user_disabled');
    expect((await sc.login(ELSEWHERE.address, ELSEWHERE.old)).line).toMatch(/^a1 OK .*Logged in/);
    // The node logs "applied" after recording it, which is after the kick the session saw: the line may still be on its way.
    await expect.poll(() => node.logs(), { timeout: 10_000 }).toMatch(/"reason":"domain_disabled".*invalidation applied|invalidation applied.*"reason":"domain_disabled"/);

    await cli(['domain', 'enable', SHUT]);
    expect((await sc.login(IN_SHUT.address, IN_SHUT.old)).line).toMatch(/^a1 OK .*Logged in/);
  });
});

describe('must_change on Dovecot 2.3', () => {
  it('refuses a cached login with "password expired" at once; after a rotation the new password logs in', async () => {
    expect((await sc.login(MUST.address, MUST.old)).line).toMatch(/^a1 OK .*Logged in/); // cached
    await cli(['mailbox', 'must-change', MUST.address]);
    // Flushed (not kicked) by the node: Dovecot asks mailpassd again and is told pass_expired.
    expect(await eventually(async () => (await sc.authTest(MUST.address, MUST.old)).stdout.includes('code=pass_expired'), 15_000, 200)).toBe(true);
    const refused = await sc.login(MUST.address, MUST.old);
    expect(refused.line).toMatch(/^a1 NO \[EXPIRED\] Password expired/);

    const body = await sc.rotate(MUST.address, MUST.new, 15_000);
    expect(body.complete).toBe(true);
    await sc.expectOldRefusedNewAccepted(MUST);
  });
});
