/**
 * A password change in force on a real Dovecot 2.4 (Debian 13, in the cached
 * debootstrap chroot of helpers/dovecot24.ts) with the shipped 2.4 Lua
 * snippet and its auth cache ON (one-hour TTL).
 *
 * On 2.4 the working combination is MAILPASSD_DOVEADM=local with the daemon
 * unprivileged (user mailpassd, only the snippet's auth-master and anvil
 * grants): flush and kick both work. Its doveadm HTTP API cannot flush
 * (2.4.1's authCacheFlush crashes the doveadm server), so a node using it must
 * report the rotation as not applied.
 *
 * How the unprivileged daemon reaches the chroot's doveadm: it cannot chroot
 * itself, so MAILPASSD_DOVEADM_BINARY is a two-line wrapper running
 * `unshare --user --map-root-user chroot <trixie> doveadm "$@"`. The user
 * namespace only permits the chroot; every file and socket access is still
 * checked by the kernel against the daemon's real uid/gid (mailpassd), so the
 * socket grants are what is tested - shown below by the same wrapper failing
 * for a user outside group mailpassd.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminToken, verify } from '../helpers/daemon.js';
import { ensureUser, groupId, makeTempDir, NOBODY_UID, run, startE2eBackend, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import { chrootDoveadmWrapper, startDovecot24, TRIXIE_DIR } from '../helpers/dovecot24.js';
import { freshLoopback } from '../helpers/imap.js';
import { expectKicked, nodeIn, RotationScenario, WAIT_FAIL_MS, WAIT_OK_MS, type Account } from '../helpers/rotation-scenario.js';
import { requireParts } from '../helpers/parts.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['root', 'trixie']);

const API_KEY = 'rotation24-e2e-doveadm-api-key-0123456789';
const account = (local: string, n: number): Account => ({
  address: `${local}@rotation24.example.net`,
  old: `Pelican-Zephyr-Rhubarb-${n}3-Anvil`,
  new: `Sextant-Nimbus-Quarry-${n}9-Bramble`,
});
const CTRL = account('peggy', 1);
const LOCAL = account('rupert', 2);
const HTTP = account('sybil', 3);

let backend: E2eBackend;
let dc: DovecotInstance;
let sc: RotationScenario;
let mailpassd: { uid: number; gid: number };
let wrapperDir: string;
let wrapper: string;
/** dovecot.conf as the chroot's doveadm sees it. */
let configInChroot: string;

/** The wrapper as another user/group, the way the daemon runs it. */
const wrapperAs = (uid: number, gid: number, args: string[]) =>
  run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', wrapper, '-c', configInChroot, ...args]);

beforeAll(async () => {
  mailpassd = ensureUser('mailpassd');
  backend = await startE2eBackend({ MAILPASSD_DOVEADM: 'none' });
  await backend.mailbox(CTRL.address, CTRL.old);
  await Promise.all([LOCAL, HTTP].map((a) => backend.mailbox(a.address, a.old)));
  dc = await startDovecot24({ authUrl: backend.daemon.authUrl, cache: { size: '10M', ttl: '1 hour' }, doveadmApiKey: API_KEY, mailRoot: backend.mailRoot });
  sc = new RotationScenario(backend, dc, await adminToken(backend.daemon));
  configInChroot = dc.configPath.slice(TRIXIE_DIR.length);
  wrapperDir = makeTempDir('doveadm24');
  wrapper = chrootDoveadmWrapper(wrapperDir, { unprivileged: true });
}, 15 * 60_000);

afterAll(async () => {
  if (process.env.MAILPASSD_E2E_VERBOSE) console.log(dc?.log());
  await sc?.stopAll();
  await dc?.stop();
  await backend?.stop();
  if (wrapperDir) rmSync(wrapperDir, { recursive: true, force: true });
});

describe('Dovecot 2.4 auth cache is on', () => {
  it('runs 2.4 with auth_cache_size 10M and a one-hour TTL', async () => {
    expect(dc.version).toMatch(/^2\.4\./);
    const r = await run('chroot', [TRIXIE_DIR, 'doveconf', '-c', configInChroot, 'auth_cache_size', 'auth_cache_ttl']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^auth_cache_size = 10 ?M$/m);
    expect(r.stdout).toMatch(/^auth_cache_ttl = (1 hours?|60 mins?)$/m);
  });

  it('without a flush, Dovecot keeps accepting the old password from its cache after the change', async () => {
    expect((await sc.login(CTRL.address, CTRL.old)).line).toMatch(/^a1 OK .*Logged in/);
    const body = await sc.rotate(CTRL.address, CTRL.new, WAIT_OK_MS);
    expect(body.complete).toBe(true);
    expect(body.nodes.filter((n) => !n.stale).map((n) => n.node_id)).toEqual([backend.daemon.env.MAILPASSD_NODE_ID]);

    expect((await verify(backend.daemon, CTRL.address, CTRL.old, { remote_ip: freshLoopback() })).body).toMatchObject({ result: 'password_mismatch' });
    expect((await sc.login(CTRL.address, CTRL.old)).line).toMatch(/^a1 OK .*Logged in/);

    const flush = await dc.doveadm(['auth', 'cache', 'flush', CTRL.address]);
    expect(flush.stderr).not.toMatch(/Error:/);
    expect(flush.stdout).toMatch(/^[1-9]\d* cache entries flushed$/m);
    const after = await sc.authTest(CTRL.address, CTRL.old);
    expect(after.stdout).toContain(`passdb: ${CTRL.address} auth failed`);
    expect(after.stdout).not.toContain('code=temp_fail');
  });
});

describe('rotate → in force on Dovecot 2.4, daemon as the unprivileged user mailpassd', () => {
  it('the doveadm wrapper grants nothing: outside group mailpassd, flush and kick are refused', async () => {
    for (const socket of [dc.authMasterSocket, join(dc.baseDir, 'anvil')]) {
      const st = statSync(socket);
      expect(st.gid, socket).toBe(mailpassd.gid);
      expect(st.mode & 0o777, socket).toBe(0o660);
    }
    const nogroup = groupId('nogroup');
    const flush = await wrapperAs(NOBODY_UID, nogroup, ['auth', 'cache', 'flush', LOCAL.address]);
    expect(flush.stderr).toMatch(/Error: auth-master: auth cache flush: connect\(.*auth-master\) failed: Permission denied/);
    expect(flush.code).toBe(0); // the lie the daemon must see through
    const kick = await wrapperAs(NOBODY_UID, nogroup, ['kick', LOCAL.address]);
    expect(kick.stderr).toMatch(/net_connect_unix\(.*\/anvil\) failed: Permission denied/);
    expect(kick.code).toBe(75);
  });

  it('MAILPASSD_DOVEADM=local: node applied, session kicked, old password refused although cached, new accepted', async () => {
    const nodeId = 'mail24-local-mailpassd';
    const node = await sc.startNode(nodeId, { MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_BINARY: wrapper, MAILPASSD_DOVEADM_CONFIG: configInChroot }, mailpassd);
    const session = await sc.openSession(LOCAL);
    try {
      const status = readFileSync(`/proc/${node.pid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(mailpassd.uid));
      expect(/^Gid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(mailpassd.gid));
      expect((await sc.authTest(LOCAL.address, LOCAL.old)).stdout).toContain(`passdb: ${LOCAL.address} auth succeeded`);

      const body = await sc.rotate(LOCAL.address, LOCAL.new, WAIT_OK_MS);
      expect(nodeIn(body, nodeId), JSON.stringify(body)).toEqual({ node_id: nodeId, applied: true, stale: false });
      expect(body.complete).toBe(true);

      await expectKicked(session);
      await sc.expectOldRefusedNewAccepted(LOCAL);
    } finally {
      session.close();
      await sc.stopNode(node);
    }
  });
});

describe('Dovecot 2.4 doveadm HTTP API: the flush cannot work, and that is reported', () => {
  it('authCacheFlush gets no answer → applied:false with the error; the old password indeed still works from the cache', async () => {
    const nodeId = 'mail24-http';
    const node = await sc.startNode(nodeId, { MAILPASSD_DOVEADM: `http://127.0.0.1:${dc.doveadmHttpPort}/doveadm/v1`, MAILPASSD_DOVEADM_API_KEY: API_KEY }, mailpassd);
    try {
      expect((await sc.authTest(HTTP.address, HTTP.old)).stdout).toContain(`passdb: ${HTTP.address} auth succeeded`);
      const body = await sc.rotate(HTTP.address, HTTP.new, WAIT_FAIL_MS);
      expect(body.complete).toBe(false);
      const n = nodeIn(body, nodeId);
      expect(n.applied, JSON.stringify(body)).toBe(false);
      expect(n.stale).toBe(false);
      expect(n.error).toMatch(/^doveadm HTTP authCacheFlush: no answer \(/);
      // Not a false alarm: nothing flushed Dovecot's cache.
      expect((await sc.login(HTTP.address, HTTP.old)).line).toMatch(/^a1 OK .*Logged in/);
      expect(dc.log()).toMatch(/Panic: .*CMD_PARAM_STR/);
    } finally {
      await sc.stopNode(node);
    }
  });
});
