/**
 * A private Dovecot 2.4 for end-to-end tests, inside a Debian 13 ("trixie")
 * chroot built with debootstrap.
 *
 * The chroot is built once and cached at /var/cache/mailpassd-test/trixie
 * (override: MAILPASSD_TEST_TRIXIE_DIR), reused by later runs and by CI runs
 * on the same machine, and rebuilt when missing or incomplete (the marker
 * file is written last, after a build into a side directory that is then
 * renamed into place). A lock directory keeps two test files from building
 * at once. The Debian mirror is read from this machine's apt sources.
 *
 * Dovecot in the chroot shares the host's network namespace, so it reaches
 * a mailpassd on the host at 127.0.0.1. Each instance lives in
 * <chroot>/tmp/mailpassd-dovecot24-*; the shipped files are installed the
 * documented way (2.4/mailpassd-auth.lua → /etc/dovecot/, which 2.4 needs
 * at config parse time) and the URL/secret are given after the !include.
 *
 * Needs root and debootstrap on the host.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cacheLines, inetService, type DovecotCache, type DovecotInstance } from './dovecot.js';
import { CONFIG_DIR } from './paths.js';
import { freePort, isAlive, portOpen, run, runDaemonizing, sleep, stopByPidFile, waitFor, type RunResult } from './process.js';
import { NOBODY_UID, authSecretFile, ensureGroup, groupId, userIds } from './system.js';
import { keepDirs } from './tmp.js';

export const TRIXIE_DIR = process.env.MAILPASSD_TEST_TRIXIE_DIR ?? '/var/cache/mailpassd-test/trixie';
const PACKAGES = ['dovecot-core', 'dovecot-imapd', 'dovecot-auth-lua', 'lua-cjson'];
const MARKER = '.mailpassd-test-complete';
const MARKER_CONTENT = `suite=trixie variant=minbase packages=${PACKAGES.join(',')}\n`;
const BUILD_TIMEOUT_MS = 15 * 60_000;

export interface Dovecot24Options {
  authUrl: string;
  authSecret?: string;
  /** false: auth_cache_size = 0. */
  cache?: DovecotCache;
  doveadmApiKey?: string;
  /**
   * Host directory used as mailpassd's userdb home root (MAILPASSD_USERDB_HOME
   * = `${mailRoot}/%d/%n`); the same path is created inside the chroot,
   * owned by uid/gid 5000, and removed on stop.
   */
  mailRoot?: string;
  mailUid?: number;
  mailGid?: number;
}

/**
 * The Debian archive URL of this machine's apt sources (deb822 `.sources`
 * files and one-line `sources.list`), skipping security and third-party
 * repositories. Never hard-coded.
 */
export function debianMirror(): string {
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  const codename = /^VERSION_CODENAME=(\S+)/m.exec(osRelease)?.[1] ?? '';
  const candidates: { uri: string; suites: string[] }[] = [];
  const dir = '/etc/apt/sources.list.d';
  const files = [...(existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : []), '/etc/apt/sources.list'];
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        if (!field('Types').includes('deb')) continue;
        for (const uri of field('URIs')) candidates.push({ uri, suites: field('Suites') });
      }
    } else if (file.endsWith('.list')) {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
        if (m) candidates.push({ uri: m[1]!, suites: [m[2]!] });
      }
    }
  }
  const debian = candidates.filter((c) => c.suites.includes(codename) && !/security/.test(c.uri) && /^https?:\/\//.test(c.uri));
  const pick = debian[0] ?? candidates.find((c) => /\/debian\/?$/.test(c.uri));
  if (!pick) throw new Error(`no Debian mirror found in the apt sources (codename ${codename || 'unknown'})`);
  return pick.uri;
}

function chrootComplete(dir: string): boolean {
  try {
    return readFileSync(join(dir, MARKER), 'utf8') === MARKER_CONTENT && existsSync(join(dir, 'usr/sbin/dovecot'));
  } catch {
    return false;
  }
}

/** mkdir-based lock with the holder's pid; a dead holder's lock is taken over. */
async function withLock<T>(lockDir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = NaN;
      try {
        holder = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
      } catch {
        /* being created or removed */
      }
      let age: number;
      try {
        age = Date.now() - statSync(lockDir).mtimeMs;
      } catch {
        continue;
      }
      if ((Number.isInteger(holder) && holder > 0 && !isAlive(holder)) || (Number.isNaN(holder) && age > 10_000)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockDir} (held by pid ${holder})`, { cause: e });
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function ensureLine(file: string, name: string, line: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (!text.split('\n').some((l) => l.startsWith(`${name}:`))) appendFileSync(file, (text.endsWith('\n') || text === '' ? '' : '\n') + line + '\n');
}

/**
 * Returns the cached trixie chroot, building it first if needed (≈1–2 min).
 * Also makes the host's `mailpassd` and `postfix` groups/user known inside
 * (same ids), since the 2.4 snippet's listeners are owned by them.
 */
export async function ensureTrixieChroot(): Promise<string> {
  if (process.getuid?.() !== 0) throw new Error('the Dovecot 2.4 e2e tests need root (chroot, debootstrap)');
  mkdirSync(dirname(TRIXIE_DIR), { recursive: true, mode: 0o755 });
  return withLock(`${TRIXIE_DIR}.lock`, BUILD_TIMEOUT_MS + 60_000, async () => {
    if (!chrootComplete(TRIXIE_DIR)) {
      if (spawnSync('which', ['debootstrap']).status !== 0) throw new Error('debootstrap is not installed (apt-get install debootstrap)');
      const mirror = debianMirror();
      const build = mkdtempSync(`${TRIXIE_DIR}.build-`);
      chmodSync(build, 0o755);
      const r = await run(
        'debootstrap',
        ['--variant=minbase', `--include=${PACKAGES.join(',')}`, 'trixie', build, mirror],
        BUILD_TIMEOUT_MS,
      );
      if (r.code !== 0 || !existsSync(join(build, 'usr/sbin/dovecot'))) {
        rmSync(build, { recursive: true, force: true });
        throw new Error(`debootstrap trixie from ${mirror} failed (${r.code}):\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-4000)}`);
      }
      writeFileSync(join(build, MARKER), MARKER_CONTENT);
      rmSync(TRIXIE_DIR, { recursive: true, force: true });
      renameSync(build, TRIXIE_DIR);
    }
    const mailpassdGid = ensureGroup('mailpassd');
    ensureLine(join(TRIXIE_DIR, 'etc/group'), 'mailpassd', `mailpassd:x:${mailpassdGid}:`);
    const { uid: pfUid, gid: pfGid } = userIds('postfix');
    ensureLine(join(TRIXIE_DIR, 'etc/group'), 'postfix', `postfix:x:${pfGid}:`);
    ensureLine(join(TRIXIE_DIR, 'etc/passwd'), 'postfix', `postfix:x:${pfUid}:${pfGid}::/var/spool/postfix:/usr/sbin/nologin`);
    // The documented install step; 2.4 checks lua_file when parsing the config.
    const target = join(TRIXIE_DIR, 'etc/dovecot/mailpassd-auth.lua');
    const tmp = `${target}.${process.pid}`;
    copyFileSync(join(CONFIG_DIR, 'dovecot', '2.4', 'mailpassd-auth.lua'), tmp);
    chmodSync(tmp, 0o644);
    renameSync(tmp, target);
    return TRIXIE_DIR;
  });
}

export async function startDovecot24(opts: Dovecot24Options): Promise<DovecotInstance> {
  const root = await ensureTrixieChroot();
  const version = (spawnSync('chroot', [root, 'dovecot', '--version'], { encoding: 'utf8' }).stdout ?? '').trim();
  if (!version.startsWith('2.4')) throw new Error(`expected Dovecot 2.4 in ${root}, found ${JSON.stringify(version)}`);

  const hostDir = mkdtempSync(join(root, 'tmp', 'mailpassd-dovecot24-'));
  chmodSync(hostDir, 0o755);
  const dir = hostDir.slice(root.length); // the same directory as seen inside the chroot
  mkdirSync(join(hostDir, 'run'), { mode: 0o755 });
  mkdirSync(join(hostDir, 'state'), { mode: 0o755 });
  const imapPort = await freePort();
  const doveadmHttpPort = opts.doveadmApiKey ? await freePort() : null;

  let mailRootInChroot: string | null = null;
  if (opts.mailRoot) {
    mailRootInChroot = join(root, opts.mailRoot);
    mkdirSync(mailRootInChroot, { recursive: true, mode: 0o755 });
    chownSync(mailRootInChroot, opts.mailUid ?? 5000, opts.mailGid ?? 5000);
  }

  copyFileSync(join(CONFIG_DIR, 'dovecot', '2.4', 'mailpassd.conf'), join(hostDir, 'mailpassd.conf'));
  chmodSync(join(hostDir, 'mailpassd.conf'), 0o644);

  const conf = [
    'dovecot_config_version = 2.4.0',
    'dovecot_storage_version = 2.4.0',
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    `log_path = ${dir}/dovecot.log`,
    `instance_name = mailpassd-test24-${imapPort}`,
    'listen = 127.0.0.1',
    'protocols = imap',
    'ssl = no',
    'auth_allow_cleartext = yes',
    'default_internal_user = dovecot',
    'default_login_user = dovenull',
    'mail_driver = maildir',
    'mail_path = ~/Maildir',
    'auth_verbose = yes',
    ...inetService('imap-login', 'imap', imapPort, { tlsTwin: 'imaps', address: false }),
    ...(doveadmHttpPort ? [`doveadm_api_key = ${opts.doveadmApiKey}`, ...inetService('doveadm', 'http', doveadmHttpPort, { address: false })] : []),
    `!include ${dir}/mailpassd.conf`,
    '# The documented adaptation: listener URL / secret, given after the include.',
    'import_environment {',
    `  MAILPASSD_AUTH_URL = ${opts.authUrl}`,
    `  MAILPASSD_AUTH_SECRET_FILE = ${authSecretFile(hostDir, opts.authSecret, chrootGroupId(root, 'dovecot'), dir)}`,
    '}',
    ...cacheLines(opts.cache),
    '',
  ].join('\n');
  const configPath = `${dir}/dovecot.conf`;
  writeFileSync(join(hostDir, 'dovecot.conf'), conf, { mode: 0o644 });
  const hostLog = join(hostDir, 'dovecot.log');
  const readLog = () => (existsSync(hostLog) ? readFileSync(hostLog, 'utf8') : '');

  const started = await runDaemonizing('chroot', [root, 'dovecot', '-c', configPath], join(hostDir, 'dovecot.start.out'));
  if (started.code !== 0) {
    const log = readLog();
    rmSync(hostDir, { recursive: true, force: true });
    throw new Error(`dovecot 2.4 failed to start (${started.code}): ${started.stderr}\n${log}`);
  }
  const pidFile = join(hostDir, 'run', 'master.pid');
  let stopped = false;
  const instance: DovecotInstance = {
    label: 'test24',
    version,
    imapPort,
    pop3Port: 0,
    lmtpPort: 0,
    authClientSocket: join(hostDir, 'run', 'auth-postfix'),
    authMasterSocket: join(hostDir, 'run', 'auth-master'),
    doveadmHttpPort,
    doveadmApiKey: opts.doveadmApiKey ?? null,
    baseDir: join(hostDir, 'run'),
    configPath: join(hostDir, 'dovecot.conf'),
    logPath: hostLog,
    doveadm: (args: string[], timeoutMs = 30_000): Promise<RunResult> => run('chroot', [root, 'doveadm', '-c', configPath, ...args], timeoutMs),
    // The chroot's group file carries the host's mailpassd gid (see ensureTrixieChroot).
    doveadmAs: (group, args, timeoutMs = 30_000) =>
      run('chroot', [`--userspec=${NOBODY_UID}:${groupId(group)}`, '--groups=', root, 'doveadm', '-c', configPath, ...args], timeoutMs),
    log: readLog,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopByPidFile(pidFile);
      if (!keepDirs()) {
        rmSync(hostDir, { recursive: true, force: true });
        if (mailRootInChroot) rmSync(mailRootInChroot, { recursive: true, force: true });
      }
    },
  };
  try {
    await waitFor('dovecot 2.4 to come up', 15_000, async () => (existsSync(pidFile) && (await portOpen(imapPort)) && existsSync(instance.authMasterSocket) ? true : null));
  } catch (e) {
    const log = readLog();
    await instance.stop();
    throw new Error(`${(e as Error).message}\n${log}`, { cause: e });
  }
  return instance;
}

/** A group's gid as the chroot's /etc/group has it (Debian 13 numbers its dovecot group itself). */
function chrootGroupId(root: string, name: string): number {
  const line = readFileSync(join(root, 'etc/group'), 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`group ${name} missing in ${root}/etc/group`);
  return Number(line.split(':')[2]);
}

/**
 * A `doveadm` on the host that runs the chroot's doveadm (for
 * MAILPASSD_DOVEADM_BINARY; the daemon cannot call into a chroot itself).
 * `unprivileged`: through a user namespace, so a caller that is not root can
 * chroot; Dovecot's socket grants inside then decide what it may do.
 */
export function chrootDoveadmWrapper(dir: string, opts: { unprivileged?: boolean } = {}): string {
  const wrapper = join(dir, 'doveadm');
  const prefix = opts.unprivileged ? 'unshare --user --map-root-user ' : '';
  writeFileSync(wrapper, `#!/bin/sh\n# doveadm of the Dovecot 2.4 chroot\nexec ${prefix}chroot ${TRIXIE_DIR} /usr/bin/doveadm "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}
