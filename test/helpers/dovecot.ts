/**
 * A private Dovecot 2.3 (Debian 12 packages) for end-to-end tests.
 *
 * It is wired only through the shipped files: the test writes a minimal base
 * dovecot.conf (directories, loopback listeners, mail location) that
 * `!include`s config/dovecot/2.3/mailpassd.conf (Lua) or
 * config/dovecot/checkpassword.conf, copied with exactly the edits those files
 * document: the script path / the command in the `args =` lines, and
 * `import_environment` repeated after the include for URL and secret.
 *
 * Needs root and: dovecot-core dovecot-imapd dovecot-pop3d dovecot-auth-lua
 * lua-cjson (and postfix installed, for the `postfix` user the auth-postfix
 * listener is owned by).
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CONFIG_DIR = join(REPO_ROOT, 'config');

/** Where the shipped snippets install the script and the program; the documented edit points. */
export const SHIPPED_LUA_PATH = '/etc/dovecot/mailpassd-auth.lua';
export const SHIPPED_CHECKPASSWORD_COMMAND = '/usr/bin/node /usr/lib/node_modules/mailpassd/dist/cli/main.js checkpassword';

export interface DoveadmResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface DovecotOptions {
  /** mailpassd's auth listener as the Lua script wants it: http://127.0.0.1:port */
  authUrl: string;
  authSecret?: string;
  /** 'lua' (default) or the 2.3 checkpassword passdb. */
  passdb?: 'lua' | 'checkpassword';
  /** For checkpassword: MAILPASSD_AUTH_LISTEN value (default: host:port of authUrl). */
  authListen?: string;
  /** For checkpassword: command replacing the shipped `args` (default: this node + dist/cli/main.js checkpassword). */
  checkpasswordCommand?: string;
  /** false: auth_cache_size = 0. Otherwise overrides of the shipped cache settings. */
  cache?: false | { size?: string; ttl?: string };
  /** Enable the doveadm HTTP API on a free loopback port with this key. */
  doveadmApiKey?: string;
  /** Extra lines appended to the base config (test-only settings). */
  extraConfig?: string;
}

export interface DovecotInstance {
  version: string;
  imapPort: number;
  pop3Port: number;
  /** Dovecot's auth socket for Postfix (the snippet's auth-postfix listener). */
  authClientSocket: string;
  authMasterSocket: string;
  doveadmHttpPort: number | null;
  doveadmApiKey: string | null;
  baseDir: string;
  configPath: string;
  logPath: string;
  doveadm(args: string[], timeoutMs?: number): Promise<DoveadmResult>;
  /**
   * doveadm as an unprivileged user (uid 65534 "nobody") with only the given
   * group - to check what a non-root mailpassd may do through the snippet's
   * socket grants (group `mailpassd`) and what it may not.
   */
  doveadmAs(group: 'mailpassd' | 'nogroup', args: string[], timeoutMs?: number): Promise<DoveadmResult>;
  /** Dovecot's log so far. */
  log(): string;
  stop(): Promise<void>;
}

export { freePort };

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function run(cmd: string, args: string[], timeoutMs = 30_000, env?: NodeJS.ProcessEnv): Promise<DoveadmResult> {
  return new Promise((resolveRun) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', env: env ?? process.env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      const code = e === null ? 0 : typeof e.code === 'number' ? e.code : -1;
      resolveRun({ stdout: String(stdout), stderr: String(stderr) + (e && typeof e.code !== 'number' ? `\n${e.message}` : ''), code });
    });
  });
}

/** The system group the snippets grant auth-master/anvil access to. */
export function ensureGroup(name = 'mailpassd'): number {
  const get = () => spawnSync('getent', ['group', name], { encoding: 'utf8' });
  let r = get();
  if (r.status !== 0) {
    spawnSync('groupadd', ['--system', name], { encoding: 'utf8' });
    r = get();
    if (r.status !== 0) throw new Error(`group ${name} missing and groupadd failed (run as root)`);
  }
  return Number(r.stdout.split(':')[2]);
}

/**
 * The system user the daemon runs as in production (`useradd --system`),
 * primary group `name` - the group the snippets grant auth-master/anvil to.
 */
export function ensureUser(name = 'mailpassd'): { uid: number; gid: number } {
  const gid = ensureGroup(name);
  const get = () => spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  let r = get();
  if (r.status !== 0) {
    const add = spawnSync('useradd', ['--system', '--gid', name, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
    r = get();
    if (r.status !== 0) throw new Error(`user ${name} missing and useradd failed (run as root): ${add.stderr}`);
  }
  const [, , uid, primary] = r.stdout.trim().split(':');
  if (Number(primary) !== gid) throw new Error(`user ${name}'s primary group is ${primary}, expected ${name} (${gid})`);
  return { uid: Number(uid), gid };
}

export const NOBODY_UID = 65534;

/**
 * The shipped snippets read the auth secret from a file, 0640 root:dovecot.
 * With a secret: that file, written here (`dir` as Dovecot sees it is
 * `visibleDir`); without one: an empty value, which clears the snippet's
 * default path (test-only: production always has a secret).
 */
export function authSecretFile(dir: string, secret: string | undefined, dovecotGid: number, visibleDir = dir): string {
  if (!secret) return '';
  const path = join(dir, 'mailpassd-auth.secret');
  writeFileSync(path, `${secret}\n`, { mode: 0o640 });
  chownSync(path, 0, dovecotGid);
  chmodSync(path, 0o640);
  return join(visibleDir, 'mailpassd-auth.secret');
}

/** Numeric gid of a host group (throws if missing). */
export function groupId(name: string): number {
  const r = spawnSync('getent', ['group', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`group ${name} missing`);
  return Number(r.stdout.split(':')[2]);
}

/** A temp directory whose parents and itself are traversable by dovecot/postgres users. */
export function makeTempDir(prefix: string): string {
  return tempDir(prefix).dir;
}

/**
 * A directory for mailbox homes, owned by the uid/gid mailpassd hands out
 * (MAILPASSD_USERDB_UID/GID), so Dovecot can create the homes in it. Pass
 * `${dir}/%d/%n` as MAILPASSD_USERDB_HOME.
 */
export function createMailRoot(uid = 5000, gid = 5000): string {
  const dir = makeTempDir('vmail');
  chownSync(dir, uid, gid);
  return dir;
}

/**
 * Copies a shipped snippet, replacing `from` with `to` in its setting lines
 * (comments stay as shipped) — the documented edit point — and insisting
 * on exactly `times` replacements, so a changed snippet breaks the test
 * instead of silently testing something else.
 */
export function adaptSnippet(text: string, from: string, to: string, times: number): string {
  let count = 0;
  const out = text.split('\n').map((line) => {
    if (line.trimStart().startsWith('#') || !line.includes(from)) return line;
    count += line.split(from).length - 1;
    return line.split(from).join(to);
  });
  if (count !== times) {
    throw new Error(`expected ${times} setting line occurrence(s) of ${JSON.stringify(from)} in the shipped snippet, found ${count}`);
  }
  return out.join('\n');
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null> | T | null): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v !== null && v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(50);
  }
}

async function portOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((r) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}

/** Stops a Dovecot master by the PID in master.pid; SIGKILL after a grace period. */
export async function stopByPidFile(pidFile: string, graceMs = 10_000): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(50);
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
}

export function dovecotVersion(bin = 'dovecot'): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return (r.stdout ?? '').trim();
}

/**
 * Runs a daemonizing command (dovecot, postfix start) and waits for the
 * foreground part to exit. Not execFile: the daemon may keep inherited
 * pipes open forever, so output goes to a file instead.
 */
export async function runDaemonizing(cmd: string, args: string[], outputFile: string, timeoutMs = 30_000): Promise<DoveadmResult> {
  const fd = openSync(outputFile, 'a');
  try {
    return await new Promise<DoveadmResult>((resolveRun) => {
      const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (e) => {
        clearTimeout(t);
        resolveRun({ stdout: '', stderr: e.message, code: -1 });
      });
      child.on('exit', (code) => {
        clearTimeout(t);
        resolveRun({ stdout: '', stderr: readFileSync(outputFile, 'utf8'), code: code ?? -1 });
      });
    });
  } finally {
    closeSync(fd);
  }
}

export async function startDovecot(opts: DovecotOptions): Promise<DovecotInstance> {
  if (process.getuid?.() !== 0) throw new Error('the Dovecot e2e tests need root');
  const version = dovecotVersion();
  if (!version.startsWith('2.3.')) throw new Error(`expected Dovecot 2.3, found ${JSON.stringify(version)}`);
  ensureGroup('mailpassd');

  const dir = makeTempDir('dovecot');
  try {
    return await startIn(dir, version, opts);
  } catch (e) {
    if (!process.env.MAILPASSD_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function startIn(dir: string, version: string, opts: DovecotOptions): Promise<DovecotInstance> {
  const baseDir = join(dir, 'run');
  const stateDir = join(dir, 'state');
  mkdirSync(baseDir, { mode: 0o755 });
  mkdirSync(stateDir, { mode: 0o755 });
  const logPath = join(dir, 'dovecot.log');
  const configPath = join(dir, 'dovecot.conf');

  const imapPort = await freePort();
  const pop3Port = await freePort();
  const doveadmHttpPort = opts.doveadmApiKey ? await freePort() : null;

  // The shipped files, copied with only their documented edits.
  const passdb = opts.passdb ?? 'lua';
  let snippet: string;
  const env: string[] = [];
  if (passdb === 'lua') {
    const luaPath = join(dir, 'mailpassd-auth.lua');
    copyFileSync(join(CONFIG_DIR, 'dovecot', '2.3', 'mailpassd-auth.lua'), luaPath);
    chmodSync(luaPath, 0o644);
    snippet = adaptSnippet(readFileSync(join(CONFIG_DIR, 'dovecot', '2.3', 'mailpassd.conf'), 'utf8'), `file=${SHIPPED_LUA_PATH}`, `file=${luaPath}`, 2);
    env.push(`MAILPASSD_AUTH_URL=${opts.authUrl}`);
    env.push(`MAILPASSD_AUTH_SECRET_FILE=${authSecretFile(dir, opts.authSecret, groupId('dovecot'))}`);
  } else {
    const command = opts.checkpasswordCommand ?? `${process.execPath} ${join(REPO_ROOT, 'dist', 'cli', 'main.js')} checkpassword`;
    snippet = adaptSnippet(readFileSync(join(CONFIG_DIR, 'dovecot', 'checkpassword.conf'), 'utf8'), SHIPPED_CHECKPASSWORD_COMMAND, command, 2);
    const listen = opts.authListen ?? new URL(opts.authUrl).host;
    env.push(`MAILPASSD_AUTH_LISTEN=${listen}`);
    env.push(`MAILPASSD_AUTH_SECRET_FILE=${authSecretFile(dir, opts.authSecret, groupId('dovecot'))}`);
    ensureGroup('mailpassd-auth'); // the snippet's extra_groups
  }
  for (const e of env) if (/\s/.test(e)) throw new Error(`import_environment values cannot contain spaces: ${e}`);
  const snippetPath = join(dir, 'mailpassd.conf');
  writeFileSync(snippetPath, snippet, { mode: 0o644 });

  const cacheLines =
    opts.cache === false
      ? ['auth_cache_size = 0']
      : [opts.cache?.size ? `auth_cache_size = ${opts.cache.size}` : '', opts.cache?.ttl ? `auth_cache_ttl = ${opts.cache.ttl}` : ''];

  const conf = [
    `# Test instance ${dir}`,
    `base_dir = ${baseDir}`,
    `state_dir = ${stateDir}`,
    `log_path = ${logPath}`,
    `instance_name = mailpassd-test-${imapPort}`,
    'listen = 127.0.0.1',
    'protocols = imap pop3',
    'ssl = no',
    'disable_plaintext_auth = no',
    'default_internal_user = dovecot',
    'default_login_user = dovenull',
    'mail_location = maildir:~/Maildir',
    'auth_verbose = yes',
    'auth_mechanisms = plain login',
    'service imap-login {',
    '  inet_listener imap {',
    '    address = 127.0.0.1',
    `    port = ${imapPort}`,
    '  }',
    '  inet_listener imaps {',
    '    port = 0',
    '  }',
    '}',
    'service pop3-login {',
    '  inet_listener pop3 {',
    '    address = 127.0.0.1',
    `    port = ${pop3Port}`,
    '  }',
    '  inet_listener pop3s {',
    '    port = 0',
    '  }',
    '}',
    ...(doveadmHttpPort
      ? [
          `doveadm_api_key = ${opts.doveadmApiKey}`,
          'service doveadm {',
          '  inet_listener http {',
          '    address = 127.0.0.1',
          `    port = ${doveadmHttpPort}`,
          '  }',
          '}',
        ]
      : []),
    opts.extraConfig ?? '',
    `!include ${snippetPath}`,
    '# The documented adaptation: listener URL / secret, given after the include.',
    `import_environment = $import_environment ${env.join(' ')}`,
    ...cacheLines,
    '',
  ].join('\n');
  writeFileSync(configPath, conf, { mode: 0o644 });

  const started = await runDaemonizing('dovecot', ['-c', configPath], join(dir, 'dovecot.start.out'));
  if (started.code !== 0) {
    const log = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
    throw new Error(`dovecot failed to start (${started.code}): ${started.stderr}\n${log}`);
  }
  const pidFile = join(baseDir, 'master.pid');

  let stopped = false;
  const instance: DovecotInstance = {
    version,
    imapPort,
    pop3Port,
    authClientSocket: join(baseDir, 'auth-postfix'),
    authMasterSocket: join(baseDir, 'auth-master'),
    doveadmHttpPort,
    doveadmApiKey: opts.doveadmApiKey ?? null,
    baseDir,
    configPath,
    logPath,
    doveadm: (args, timeoutMs = 30_000) => run('doveadm', ['-c', configPath, ...args], timeoutMs),
    doveadmAs: (group, args, timeoutMs = 30_000) =>
      run('setpriv', [`--reuid=${NOBODY_UID}`, `--regid=${groupId(group)}`, '--clear-groups', 'doveadm', '-c', configPath, ...args], timeoutMs),
    log: () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : ''),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopByPidFile(pidFile);
      if (!process.env.MAILPASSD_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor('dovecot master.pid', 10_000, () => (existsSync(pidFile) ? true : null));
    await waitFor(`IMAP port ${imapPort}`, 10_000, async () => ((await portOpen(imapPort)) ? true : null));
    await waitFor('auth-postfix socket', 10_000, () => (existsSync(instance.authClientSocket) ? true : null));
  } catch (e) {
    const log = instance.log();
    await stopByPidFile(pidFile);
    throw new Error(`${(e as Error).message}\n${log}`, { cause: e });
  }
  return instance;
}

/* ------------------------------------------------------------------------ */
/* The real daemon behind the test Dovecots.                                 */
/* ------------------------------------------------------------------------ */

export interface E2eBackend {
  daemon: import('./daemon.js').TestDaemon;
  /** The daemon's own PostgreSQL cluster, which a test may stop and start. */
  cluster: import('./postgres.js').OwnCluster;
  /** Root of the mailbox homes (mailpassd's userdb home = `${mailRoot}/%d/%n`). */
  mailRoot: string;
  /** Creates domain + mailbox with this password through the CLI. */
  mailbox(address: string, password: string): Promise<void>;
  /** Database down → logins must fail temporarily; `up` brings it back on the same port. */
  databaseDown(): Promise<void>;
  databaseUp(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts mailpassd (the real `dist/cli/main.js serve`) on its own embedded
 * PostgreSQL cluster, with mailbox homes under a directory owned by uid/gid
 * 5000 so Dovecot can create them.
 */
export async function startE2eBackend(env: Record<string, string> = {}): Promise<E2eBackend> {
  const { startOwnCluster } = await import('./postgres.js');
  const { startTestDaemon, seedMailbox } = await import('./daemon.js');
  const cluster = await startOwnCluster();
  const mailRoot = createMailRoot(5000, 5000);
  let daemon;
  try {
    daemon = await startTestDaemon({
      databaseUrl: cluster.url,
      env: {
        MAILPASSD_USERDB_HOME: `${mailRoot}/%d/%n`,
        MAILPASSD_USERDB_UID: '5000',
        MAILPASSD_USERDB_GID: '5000',
        // The DB-down tests want a prompt 503, not the default waits.
        MAILPASSD_DATABASE_CONNECT_TIMEOUT_MS: '1000',
        MAILPASSD_DATABASE_POOL_WAIT_MS: '1000',
        ...env,
      },
    });
  } catch (e) {
    await cluster.destroy();
    rmSync(mailRoot, { recursive: true, force: true });
    throw e;
  }
  const d = daemon;
  return {
    daemon: d,
    cluster,
    mailRoot,
    mailbox: (address, password) => seedMailbox(d, address, password),
    databaseDown: () => cluster.stop(),
    databaseUp: () => cluster.start(),
    stop: async () => {
      await d.stop();
      await cluster.destroy();
      if (!process.env.MAILPASSD_KEEP_TEST_DIRS) rmSync(mailRoot, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns true or the deadline passes; returns whether it did. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}
