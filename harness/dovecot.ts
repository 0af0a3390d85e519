/**
 * A private Dovecot 2.3 (Debian 12 packages), for end-to-end tests and benchmarks.
 *
 * One instance: a minimal base dovecot.conf (its own base_dir, state_dir and
 * log, loopback listeners, mail location) and one passdb:
 *   'lua'           the shipped config/dovecot/2.3/mailpassd.conf + Lua script;
 *   'checkpassword' the shipped config/dovecot/checkpassword.conf;
 *   'sql'           Dovecot's own passdb sql (dovecot-pgsql) on the mailboxes
 *                   table - the benchmarks' comparison;
 *   'static'        passdb static nopassword=y: Dovecot's own cost per login.
 * The shipped files are copied with exactly the edits they document: the
 * script path / the command in the `args =` lines, and `import_environment`
 * repeated after the include for URL and secret. Each instance is stopped by
 * the PID in its master.pid (never by name).
 *
 * Needs root and: dovecot-core dovecot-imapd dovecot-pop3d dovecot-auth-lua
 * lua-cjson (and postfix installed, for the `postfix` user the auth-postfix
 * listener is owned by); dovecot-pgsql for 'sql'.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_DIR, MAIN } from './paths.js';
import { freePort, portOpen, run, runDaemonizing, stopByPidFile, waitFor, type RunResult } from './process.js';
import { NOBODY_UID, authSecretFile, ensureGroup, groupId } from './system.js';
import { keepDirs, tempDir } from './tmp.js';

/** Where the shipped snippets install the script and the program; the documented edit points. */
export const SHIPPED_LUA_PATH = '/etc/dovecot/mailpassd-auth.lua';
export const SHIPPED_CHECKPASSWORD_COMMAND = '/usr/bin/node /usr/lib/node_modules/mailpassd/dist/cli/main.js checkpassword';
/** The uid/gid the mailbox homes belong to (MAILPASSD_USERDB_UID/GID, and the benchmarks' userdb static). */
export const VMAIL_UID = 5000;
export const VMAIL_GID = 5000;

/** Where Dovecot's passdb sql finds the mailboxes table. */
export interface SqlConnection {
  host: string;
  port: string;
  dbname: string;
  user: string;
  password: string;
}

export type DovecotCache = false | { size?: string; ttl?: string };

export interface DovecotOptions {
  /** 'lua' (default), the 2.3 checkpassword passdb, or the benchmarks' comparisons 'sql' and 'static'. */
  passdb?: 'lua' | 'checkpassword' | 'sql' | 'static';
  /** lua/checkpassword: mailpassd's auth listener as the Lua script wants it: http://127.0.0.1:port */
  authUrl?: string;
  authSecret?: string;
  /** For checkpassword: MAILPASSD_AUTH_LISTEN value (default: host:port of authUrl). */
  authListen?: string;
  /** For checkpassword: command replacing the shipped `args` (default: this node + dist/cli/main.js checkpassword). */
  checkpasswordCommand?: string;
  /** For sql. */
  sql?: SqlConnection;
  /** For sql/static: the mail homes root of their userdb static (`home=<home>/%d/%n`). */
  home?: string;
  /** false: auth_cache_size = 0. Otherwise overrides of the shipped (or Dovecot's default) cache settings. */
  cache?: DovecotCache;
  /** Enable the doveadm HTTP API on a loopback port (a free one unless given) with this key. */
  doveadmApiKey?: string;
  doveadmHttpPort?: number;
  /** The instance's directory when it must be known before the start (doveadm -c <dir>/dovecot.conf). */
  dir?: string;
  /** Names the instance (instance_name, errors). */
  label?: string;
  /** Also a loopback POP3 listener (default true). */
  pop3?: boolean;
  /** Also a loopback LMTP listener (delivery from Postfix; needs dovecot-lmtpd). */
  lmtp?: boolean;
  /** auth_verbose (default true; the benchmarks keep Dovecot's quiet default). */
  authVerbose?: boolean;
  /**
   * Dovecot's "high-performance" login mode: login processes serve many
   * connections and imap processes are forked ahead, so a benchmark measures
   * the passdb rather than Dovecot's fork-per-login.
   */
  highPerformance?: boolean;
  /** See REFUSE_AT_ONCE. Benchmarks only. */
  refuseAtOnce?: boolean;
  /** Extra lines before the passdb (test-only settings). */
  extraConfig?: string;
}

export interface DovecotInstance {
  label: string;
  version: string;
  imapPort: number;
  /** 0 when the instance has no POP3 listener. */
  pop3Port: number;
  /** 0 when the instance has no LMTP listener. */
  lmtpPort: number;
  /** Dovecot's auth socket for Postfix (the snippet's auth-postfix listener). */
  authClientSocket: string;
  authMasterSocket: string;
  doveadmHttpPort: number | null;
  doveadmApiKey: string | null;
  baseDir: string;
  configPath: string;
  logPath: string;
  doveadm(args: string[], timeoutMs?: number): Promise<RunResult>;
  /**
   * doveadm as an unprivileged user (uid 65534 "nobody") with only the given
   * group - to check what a non-root mailpassd may do through the snippet's
   * socket grants (group `mailpassd`) and what it may not.
   */
  doveadmAs(group: 'mailpassd' | 'nogroup', args: string[], timeoutMs?: number): Promise<RunResult>;
  /** Dovecot's log so far. */
  log(): string;
  stop(): Promise<void>;
}

export function dovecotVersion(bin = 'dovecot'): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return (r.stdout ?? '').trim();
}

/**
 * Copies a shipped snippet, replacing `from` with `to` in its setting lines
 * (comments stay as shipped) — the documented edit point — and insisting
 * on exactly `times` replacements, so a changed snippet breaks the caller
 * instead of silently running something else.
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

/** The auth cache lines given after the shipped snippet (2.3 and 2.4 spell them alike). */
export function cacheLines(cache: DovecotCache | undefined): string[] {
  if (cache === false) return ['auth_cache_size = 0'];
  return [...(cache?.size ? [`auth_cache_size = ${cache.size}`] : []), ...(cache?.ttl ? [`auth_cache_ttl = ${cache.ttl}`] : [])];
}

/** `service <name> { inet_listener <listener> { address, port } }`, with the TLS twin switched off when named. */
export function inetService(service: string, listener: string, port: number, opts: { tlsTwin?: string; address?: boolean; settings?: string[] } = {}): string[] {
  return [
    `service ${service} {`,
    ...(opts.settings ?? []).map((line) => `  ${line}`),
    `  inet_listener ${listener} {`,
    ...(opts.address === false ? [] : ['    address = 127.0.0.1']),
    `    port = ${port}`,
    '  }',
    ...(opts.tlsTwin ? [`  inet_listener ${opts.tlsTwin} {`, '    port = 0', '  }'] : []),
    '}',
  ];
}

/**
 * Dovecot 2.3 holds every refused login back: failures wait in a queue that is
 * flushed by a 500 ms timer, even with `auth_failure_delay = 0`
 * (src/auth/auth-request-handler.c, AUTH_FAILURE_DELAY_CHECK_MSECS), so an IMAP
 * "NO" arrives ≥ 500 ms after Dovecot decided it. A passdb may ask for its
 * failure to skip that queue with the `nodelay` field, but a failed passdb's own
 * fields are rolled back; a field-only passdb placed first (static,
 * `noauthenticate`: it authenticates nobody, its result is "next") keeps it.
 * The password decision, the auth cache and the shipped passdb are unchanged:
 * only the refusal is delivered when it is made, so a probe times the decision
 * rather than Dovecot's tarpit. Benchmarks only — never in production.
 */
const REFUSE_AT_ONCE = ['# bench probe: deliver refusals when decided (see harness/dovecot.ts)', 'passdb {', '  driver = static', '  args = noauthenticate nodelay=y', '}'];

/** The passdb/userdb part of the config; writes the files it includes into `dir`. */
function authSection(dir: string, opts: DovecotOptions): { lines: string[]; snippet: boolean } {
  const passdb = opts.passdb ?? 'lua';
  const env: string[] = [];
  let snippet: string;
  if (passdb === 'lua' || passdb === 'checkpassword') {
    if (!opts.authUrl && !opts.authListen) throw new Error(`passdb ${passdb} needs authUrl`);
    if (passdb === 'lua') {
      const luaPath = join(dir, 'mailpassd-auth.lua');
      copyFileSync(join(CONFIG_DIR, 'dovecot', '2.3', 'mailpassd-auth.lua'), luaPath);
      chmodSync(luaPath, 0o644);
      snippet = adaptSnippet(readFileSync(join(CONFIG_DIR, 'dovecot', '2.3', 'mailpassd.conf'), 'utf8'), `file=${SHIPPED_LUA_PATH}`, `file=${luaPath}`, 2);
      env.push(`MAILPASSD_AUTH_URL=${opts.authUrl}`);
    } else {
      const command = opts.checkpasswordCommand ?? `${process.execPath} ${MAIN} checkpassword`;
      snippet = adaptSnippet(readFileSync(join(CONFIG_DIR, 'dovecot', 'checkpassword.conf'), 'utf8'), SHIPPED_CHECKPASSWORD_COMMAND, command, 2);
      env.push(`MAILPASSD_AUTH_LISTEN=${opts.authListen ?? new URL(opts.authUrl!).host}`);
      ensureGroup('mailpassd-auth'); // the snippet's extra_groups
    }
    env.push(`MAILPASSD_AUTH_SECRET_FILE=${authSecretFile(dir, opts.authSecret, groupId('dovecot'))}`);
    for (const e of env) if (/\s/.test(e)) throw new Error(`import_environment values cannot contain spaces: ${e}`);
    const snippetPath = join(dir, 'mailpassd.conf');
    writeFileSync(snippetPath, snippet, { mode: 0o644 });
    return {
      lines: [`!include ${snippetPath}`, '# The documented adaptation: listener URL / secret, given after the include.', `import_environment = $import_environment ${env.join(' ')}`],
      snippet: true,
    };
  }
  if (!opts.home) throw new Error(`passdb ${passdb} needs home`);
  const userdb = ['userdb {', '  driver = static', `  args = uid=${VMAIL_UID} gid=${VMAIL_GID} home=${opts.home}/%d/%n`, '}'];
  if (passdb === 'static') return { lines: ['passdb {', '  driver = static', '  args = nopassword=y', '}', ...userdb], snippet: false };
  const pg = opts.sql;
  if (!pg) throw new Error('passdb sql needs sql');
  const sqlPath = join(dir, 'dovecot-sql.conf.ext');
  writeFileSync(
    sqlPath,
    [
      'driver = pgsql',
      `connect = host=${pg.host} port=${pg.port} dbname=${pg.dbname} user=${pg.user}${pg.password ? ` password=${pg.password}` : ''}`,
      'default_pass_scheme = ARGON2ID',
      "password_query = SELECT address AS user, password_hash AS password FROM mailboxes WHERE address = '%u'",
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { lines: ['passdb {', '  driver = sql', `  args = ${sqlPath}`, '}', ...userdb], snippet: false };
}

export async function startDovecot(opts: DovecotOptions): Promise<DovecotInstance> {
  if (process.getuid?.() !== 0) throw new Error('a private Dovecot needs root');
  const version = dovecotVersion();
  if (!version.startsWith('2.3.')) throw new Error(`expected Dovecot 2.3, found ${JSON.stringify(version)}`);
  ensureGroup('mailpassd');

  const dir = opts.dir ?? tempDir(`dovecot-${opts.label ?? 'test'}`).dir;
  try {
    return await startIn(dir, version, opts);
  } catch (e) {
    if (!keepDirs()) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function startIn(dir: string, version: string, opts: DovecotOptions): Promise<DovecotInstance> {
  const label = opts.label ?? 'test';
  const baseDir = join(dir, 'run');
  const stateDir = join(dir, 'state');
  mkdirSync(baseDir, { mode: 0o755 });
  mkdirSync(stateDir, { mode: 0o755 });
  const logPath = join(dir, 'dovecot.log');
  const configPath = join(dir, 'dovecot.conf');

  const imapPort = await freePort();
  const pop3Port = opts.pop3 === false ? 0 : await freePort();
  const lmtpPort = opts.lmtp ? await freePort() : 0;
  const doveadmHttpPort = opts.doveadmApiKey ? (opts.doveadmHttpPort ?? (await freePort())) : null;
  const auth = authSection(dir, opts);

  const conf = [
    `# ${label} instance ${dir}`,
    `base_dir = ${baseDir}`,
    `state_dir = ${stateDir}`,
    `log_path = ${logPath}`,
    `instance_name = mailpassd-${label}-${imapPort}`,
    'listen = 127.0.0.1',
    `protocols = imap${pop3Port ? ' pop3' : ''}${lmtpPort ? ' lmtp' : ''}`,
    'ssl = no',
    'disable_plaintext_auth = no',
    'default_internal_user = dovecot',
    'default_login_user = dovenull',
    'mail_location = maildir:~/Maildir',
    ...(opts.authVerbose === false ? [] : ['auth_verbose = yes']),
    'auth_mechanisms = plain login',
    ...(opts.highPerformance ? ['service imap {', '  process_min_avail = 4', '}'] : []),
    ...inetService('imap-login', 'imap', imapPort, { tlsTwin: 'imaps', ...(opts.highPerformance ? { settings: ['service_count = 0', 'process_min_avail = 2'] } : {}) }),
    ...(pop3Port ? inetService('pop3-login', 'pop3', pop3Port, { tlsTwin: 'pop3s' }) : []),
    ...(lmtpPort ? ['postmaster_address = postmaster@test.invalid', ...inetService('lmtp', 'lmtp', lmtpPort)] : []),
    ...(doveadmHttpPort ? [`doveadm_api_key = ${opts.doveadmApiKey}`, ...inetService('doveadm', 'http', doveadmHttpPort)] : []),
    opts.extraConfig ?? '',
    ...(opts.refuseAtOnce ? REFUSE_AT_ONCE : []),
    ...auth.lines,
    ...cacheLines(opts.cache),
    '',
  ].join('\n');
  writeFileSync(configPath, conf, { mode: 0o644 });

  const readLog = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const started = await runDaemonizing('dovecot', ['-c', configPath], join(dir, 'dovecot.start.out'));
  if (started.code !== 0) throw new Error(`dovecot (${label}) failed to start (${started.code}): ${started.stderr}\n${readLog()}`);
  const pidFile = join(baseDir, 'master.pid');

  let stopped = false;
  const instance: DovecotInstance = {
    label,
    version,
    imapPort,
    pop3Port,
    lmtpPort,
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
    log: readLog,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopByPidFile(pidFile);
      if (!keepDirs()) rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor('dovecot master.pid', 10_000, () => (existsSync(pidFile) ? true : null));
    await waitFor(`IMAP port ${imapPort}`, 10_000, async () => ((await portOpen(imapPort)) ? true : null));
    // The shipped snippets define the auth-postfix listener; the benchmarks' own passdbs do not.
    if (auth.snippet) await waitFor('auth-postfix socket', 10_000, () => (existsSync(instance.authClientSocket) ? true : null));
  } catch (e) {
    const log = readLog();
    await stopByPidFile(pidFile);
    throw new Error(`dovecot (${label}): ${(e as Error).message}\n${log}`, { cause: e });
  }
  return instance;
}
