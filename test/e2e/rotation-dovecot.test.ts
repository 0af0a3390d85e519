/**
 * A password change in force on a real Dovecot 2.3 at once (DESIGN §5).
 *
 * One Dovecot 2.3 (Debian 12) wired through the shipped Lua snippet, with its
 * auth cache ON (10M, one-hour TTL), in front of the real mailpassd on its
 * own PostgreSQL. For each way a node can reach that Dovecot - the local
 * `doveadm` binary and the doveadm HTTP API, the daemon as root and as the
 * unprivileged system user `mailpassd` with only the snippet's socket grants -
 * a node daemon is started, a password is rotated through the admin API, and
 * the test asks Dovecot itself: the open IMAP session is gone, the old
 * password is refused although Dovecot had cached it, the new one works.
 * What cannot work (2.3 `local` kick unprivileged, a doveadm server that is
 * down, a daemon without the grants) must come back as `applied: false` with
 * the error, and the CLI `rotate` must exit 1.
 *
 * Every scenario uses its own mailbox, so no cache entry, session or auth
 * penalty carries over. The daemon that serves Dovecot's passdb requests runs
 * with MAILPASSD_DOVEADM=none: it confirms every invalidation at once and
 * never touches Dovecot, so only the scenario's node can make a change take
 * effect there.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminToken, verify } from '../helpers/daemon.js';
import { ensureUser, freePort, groupId, NOBODY_UID, run, startDovecot, startE2eBackend, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import { freshLoopback } from '../helpers/imap.js';
import { expectKicked, nodeIn, RotationScenario, WAIT_FAIL_MS, WAIT_OK_MS, type Account, type RotateBody } from '../helpers/rotation-scenario.js';
import { requireParts } from '../helpers/parts.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['root', 'dovecot23']);

const API_KEY = 'rotation-e2e-doveadm-api-key-0123456789';
const account = (local: string, n: number): Account => ({
  address: `${local}@rotation.example.net`,
  old: `Harbor-Violet-Quokka-${n}1-Stencil`,
  new: `Glacier-Orbit-Pumice-${n}7-Lantern`,
});
const CTRL = account('ctrl', 1);
const LOCAL_ROOT = account('ivan', 2);
const HTTP_ROOT = account('judy', 3);
const LOCAL_UNPRIV = account('mallory', 4);
const HTTP_UNPRIV = account('niaj', 5);
const FAILING = account('olivia', 6);
const FAILING_CLI_PW = 'Thimble-Cascade-Marmot-68-Quiver';

let backend: E2eBackend;
let dc: DovecotInstance;
let sc: RotationScenario;
let mailpassd: { uid: number; gid: number };

const localEnv = () => ({ MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_CONFIG: dc.configPath });
const httpEnv = (port = dc.doveadmHttpPort!) => ({ MAILPASSD_DOVEADM: `http://127.0.0.1:${port}/doveadm/v1`, MAILPASSD_DOVEADM_API_KEY: API_KEY });

/** The whole story for a node that must confirm: warm cache + open session → rotate → in force on Dovecot. */
async function rotationTakesEffect(nodeId: string, a: Account, env: Record<string, string>, user?: { uid: number; gid: number }): Promise<void> {
  const node = await sc.startNode(nodeId, env, user);
  const session = await sc.openSession(a);
  try {
    expect((await sc.authTest(a.address, a.old)).stdout).toContain(`passdb: ${a.address} auth succeeded`);
    const body = await sc.rotate(a.address, a.new, WAIT_OK_MS);
    expect(nodeIn(body, nodeId), JSON.stringify(body)).toEqual({ node_id: nodeId, applied: true, stale: false });
    expect(body.complete).toBe(true);
    await expectKicked(session);
    await sc.expectOldRefusedNewAccepted(a);
  } finally {
    session.close();
    await sc.stopNode(node);
  }
}

/** Effective uid/gid of a running process. */
function processIds(pid: number): { uid: number; gid: number; groups: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  return { uid: Number(field('Uid').split(/\s+/)[1]), gid: Number(field('Gid').split(/\s+/)[1]), groups: field('Groups') };
}

beforeAll(async () => {
  mailpassd = ensureUser('mailpassd');
  backend = await startE2eBackend({ MAILPASSD_DOVEADM: 'none' });
  await backend.mailbox(CTRL.address, CTRL.old); // creates the domain first
  await Promise.all([LOCAL_ROOT, HTTP_ROOT, LOCAL_UNPRIV, HTTP_UNPRIV, FAILING].map((a) => backend.mailbox(a.address, a.old)));
  dc = await startDovecot({ authUrl: backend.daemon.authUrl, passdb: 'lua', cache: { size: '10M', ttl: '1 hour' }, doveadmApiKey: API_KEY });
  sc = new RotationScenario(backend, dc, await adminToken(backend.daemon));
});

afterAll(async () => {
  if (process.env.MAILPASSD_E2E_VERBOSE) console.log(dc?.log());
  await sc?.stopAll();
  await dc?.stop();
  await backend?.stop();
});

describe('Dovecot 2.3 auth cache is on (otherwise nothing below proves anything)', () => {
  it('runs with auth_cache_size 10M and a one-hour TTL', async () => {
    const r = await run('doveconf', ['-c', dc.configPath, 'auth_cache_size', 'auth_cache_ttl']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^auth_cache_size = 10 ?M$/m);
    expect(r.stdout).toMatch(/^auth_cache_ttl = (1 hours?|60 mins?)$/m);
  });

  it('without a flush, Dovecot keeps accepting the old password from its cache after the change', async () => {
    const first = await sc.login(CTRL.address, CTRL.old);
    expect(first.line).toMatch(/^a1 OK .*Logged in/);

    // Only doveadm=none nodes are live: the change is committed, nobody tells Dovecot.
    const body = await sc.rotate(CTRL.address, CTRL.new, WAIT_OK_MS);
    expect(body.complete).toBe(true);
    expect(body.nodes.filter((n) => !n.stale).map((n) => n.node_id)).toEqual([backend.daemon.env.MAILPASSD_NODE_ID]);

    // mailpassd itself already refuses it ...
    const direct = await verify(backend.daemon, CTRL.address, CTRL.old, { remote_ip: freshLoopback() });
    expect(direct.body).toMatchObject({ result: 'password_mismatch' });
    // ... yet Dovecot, answering from its cache, still lets it in.
    const stale = await sc.login(CTRL.address, CTRL.old);
    expect(stale.line).toMatch(/^a1 OK .*Logged in/);
    expect((await sc.authTest(CTRL.address, CTRL.old)).stdout).toContain(`passdb: ${CTRL.address} auth succeeded`);

    // The flush finds that entry, and only then is the old password refused.
    const flush = await dc.doveadm(['auth', 'cache', 'flush', CTRL.address]);
    expect(flush.stderr).not.toMatch(/Error:/);
    expect(flush.stdout).toMatch(/^[1-9]\d* cache entries flushed$/m); // passdb (+ userdb after an IMAP login)
    const after = await sc.authTest(CTRL.address, CTRL.old);
    expect(after.stdout).toContain(`passdb: ${CTRL.address} auth failed`);
    expect(after.stdout).not.toContain('code=temp_fail');
  });
});

describe('rotate → in force on Dovecot 2.3 (daemon as root)', () => {
  it('MAILPASSD_DOVEADM=local: node applied, session kicked, old password refused, new accepted', async () => {
    await rotationTakesEffect('mail-local-root', LOCAL_ROOT, localEnv());
  });

  it('doveadm HTTP API: node applied, session kicked, old password refused, new accepted', async () => {
    await rotationTakesEffect('mail-http-root', HTTP_ROOT, httpEnv());
  });
});

describe('rotate with the daemon as the unprivileged user mailpassd (only the shipped grants)', () => {
  it('the shipped snippet grants group mailpassd auth-master and anvil (0660), nothing else', () => {
    for (const socket of [dc.authMasterSocket, join(dc.baseDir, 'anvil')]) {
      const st = statSync(socket);
      expect(st.isSocket()).toBe(true);
      expect(st.gid, socket).toBe(mailpassd.gid);
      expect(st.mode & 0o777, socket).toBe(0o660);
    }
    // The harmless stats-writer complaint below comes from this one.
    expect(statSync(join(dc.baseDir, 'stats-writer')).gid).toBe(groupId('dovecot'));
  });

  it('local: the flush works but 2.3 cannot kick unprivileged → reported as NOT applied with the kick error', async () => {
    const nodeId = 'mail-local-mailpassd';
    const node = await sc.startNode(nodeId, localEnv(), mailpassd);
    const session = await sc.openSession(LOCAL_UNPRIV);
    try {
      const ids = processIds(node.pid);
      expect(ids).toMatchObject({ uid: mailpassd.uid, gid: mailpassd.gid });
      expect(ids.groups.split(/\s+/).filter(Boolean).map(Number).filter((g) => g !== mailpassd.gid)).toEqual([]);

      const body = await sc.rotate(LOCAL_UNPRIV.address, LOCAL_UNPRIV.new, WAIT_FAIL_MS);
      expect(body.complete).toBe(false);
      const n = nodeIn(body, nodeId);
      expect(n.applied, JSON.stringify(body)).toBe(false);
      expect(n.stale).toBe(false);
      // Only the kick failed, and it says why (doveadm found the session and
      // could not signal the imap process); the flush is not blamed for 2.3's
      // harmless stats-writer line.
      expect(n.error).toMatch(/^doveadm kick: kill\(\d+, SIGTERM\) failed: Operation not permitted$/);

      // What Dovecot shows: the flush did reach it, the session stays open.
      await sc.expectOldRefusedNewAccepted(LOCAL_UNPRIV);
      const still = await session.command('NOOP', 10_000);
      expect(still.status).toBe('OK');
      expect(node.logs()).toMatch(/invalidation not applied; will retry/);
    } finally {
      session.close();
      await sc.stopNode(node);
    }
  });

  it('doveadm HTTP API (the working 2.3 combination): node applied, session kicked, old refused, new accepted', async () => {
    await rotationTakesEffect('mail-http-mailpassd', HTTP_UNPRIV, httpEnv(), mailpassd);
  });
});

describe('a node whose doveadm fails is reported as not applied, next to a healthy one', () => {
  it('doveadm server down and a daemon without the grants → applied:false with the error; the healthy node applies; CLI rotate exits 1', async () => {
    const closedPort = await freePort(); // nothing listens there
    const nogroup = { uid: NOBODY_UID, gid: groupId('nogroup') };
    const [down, noperm, healthy] = await Promise.all([
      sc.startNode('mail-doveadm-down', httpEnv(closedPort)),
      sc.startNode('mail-no-grants', localEnv(), nogroup),
      sc.startNode('mail-healthy', httpEnv(), mailpassd),
    ]);
    const session = await sc.openSession(FAILING);
    try {
      const body = await sc.rotate(FAILING.address, FAILING.new, WAIT_FAIL_MS);
      expect(body.complete).toBe(false);

      const d = nodeIn(body, 'mail-doveadm-down');
      expect(d.applied).toBe(false);
      expect(d.stale).toBe(false);
      expect(d.error).toBe('doveadm HTTP authCacheFlush: no answer (ECONNREFUSED); doveadm HTTP kick: no answer (ECONNREFUSED)');

      // doveadm's flush "succeeds" here (exit 0, "0 cache entries flushed") - the stderr tells.
      const p = nodeIn(body, 'mail-no-grants');
      expect(p.applied).toBe(false);
      expect(p.stale).toBe(false);
      expect(p.error).toMatch(/^doveadm auth cache flush: Error: auth-master: auth cache flush: connect\(.*auth-master\) failed: Permission denied/);
      expect(p.error).toMatch(/; doveadm kick: Fatal: net_connect_unix\(.*\/anvil\) failed: Permission denied$/);

      expect(nodeIn(body, 'mail-healthy')).toEqual({ node_id: 'mail-healthy', applied: true, stale: false });
      // The healthy node alone made it take effect on this Dovecot.
      await expectKicked(session);
      await sc.expectOldRefusedNewAccepted(FAILING);

      // The CLI says the same and exits 1.
      const cli = await backend.daemon.cli(['rotate', FAILING.address, '--password-stdin', '--wait', '3'], FAILING_CLI_PW);
      expect(cli.code, cli.stderr + cli.stdout).toBe(1);
      expect(cli.stdout).toContain(`password of ${FAILING.address} changed`);
      const row = (id: string) => cli.stdout.split('\n').find((l) => l.startsWith(`${id} `)) ?? '';
      expect(row('mail-doveadm-down')).toMatch(/NOT APPLIED\s+doveadm HTTP authCacheFlush: no answer \(ECONNREFUSED\)/);
      expect(row('mail-no-grants')).toMatch(/NOT APPLIED\s+doveadm auth cache flush: .*Permission denied/);
      expect(row('mail-healthy')).toMatch(/^mail-healthy\s+applied\s+-$/);
      const json = await backend.daemon.cli(['rotate', FAILING.address, '--password-stdin', '--wait', '2', '--json'], FAILING.old.replace('Harbor', 'Meadow'));
      expect(json.code, json.stderr).toBe(1);
      const out = JSON.parse(json.stdout) as RotateBody;
      expect(out.complete).toBe(false);
      expect(nodeIn(out, 'mail-doveadm-down')).toMatchObject({ applied: false, error: expect.stringContaining('ECONNREFUSED') });
      expect(nodeIn(out, 'mail-no-grants')).toMatchObject({ applied: false, error: expect.stringContaining('Permission denied') });
      expect(nodeIn(out, 'mail-healthy')).toMatchObject({ applied: true });
    } finally {
      session.close();
      await Promise.all([sc.stopNode(down), sc.stopNode(noperm), sc.stopNode(healthy)]);
    }
  });
});
