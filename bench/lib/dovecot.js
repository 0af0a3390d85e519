// Private Dovecot 2.3 instances for the benchmarks, ported from the test helper
// (test/helpers/dovecot.ts): a minimal base dovecot.conf with its own base_dir,
// state_dir, log and loopback IMAP listener, plus one passdb:
//   'mailpassd' — the shipped config/dovecot/2.3/mailpassd.conf + Lua script,
//                 copied with only its documented edits (script path, URL);
//   'sql'       — Dovecot's own passdb sql (dovecot-pgsql) on the mailboxes table;
//   'static'    — passdb static nopassword=y: Dovecot's own cost per login.
// Each instance is stopped by the PID in its master.pid (never by name).
// Also: a tiny IMAP client (connect → LOGIN → LOGOUT) with a chosen source address.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT } from './daemon.js';
import { freePort, onCleanup, sleep, tempDir } from './procs.js';

const CONFIG_DIR = path.join(ROOT, 'config', 'dovecot', '2.3');
const SHIPPED_LUA_PATH = '/etc/dovecot/mailpassd-auth.lua';
export const VMAIL_UID = 5000;
export const VMAIL_GID = 5000;

export function dovecotVersion() {
  return (spawnSync('dovecot', ['--version'], { encoding: 'utf8' }).stdout ?? '').trim();
}

/** Checks what the benchmark needs; returns a reason string when it cannot run. */
export function dovecotMissing() {
  if (process.getuid?.() !== 0) return 'needs root (private Dovecot instances)';
  const v = dovecotVersion();
  if (!v.startsWith('2.3.')) return `needs Dovecot 2.3, found ${JSON.stringify(v)}`;
  if (!existsSync('/usr/lib/dovecot/modules/libdriver_pgsql.so')) return 'needs dovecot-pgsql (apt-get install -y dovecot-pgsql)';
  return null;
}

function ensureGroup(name) {
  if (spawnSync('getent', ['group', name]).status !== 0) spawnSync('groupadd', ['--system', name]);
}

/** Mail homes root owned by the uid/gid both userdbs hand out. */
export function mailRoot() {
  const dir = tempDir('vmail');
  chownSync(dir, VMAIL_UID, VMAIL_GID);
  return dir;
}

function adaptSnippet(text, from, to, times) {
  let count = 0;
  const out = text.split('\n').map((line) => {
    if (line.trimStart().startsWith('#') || !line.includes(from)) return line;
    count += line.split(from).length - 1;
    return line.split(from).join(to);
  });
  if (count !== times) throw new Error(`expected ${times} occurrence(s) of ${from} in the shipped snippet, found ${count}`);
  return out.join('\n');
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopByPidFile(pidFile, graceMs = 10_000) {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(50);
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
}

function runDaemonizing(cmd, args, outFile, timeoutMs = 30_000) {
  const fd = openSync(outFile, 'a');
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(t);
      resolve({ code: -1, out: e.message });
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, out: readFileSync(outFile, 'utf8') });
    });
  });
}

function portOpen(port) {
  return new Promise((r) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}

/** Reserves a directory and config path before the daemon (which needs the path for doveadm -c) starts. */
export function dovecotDir(label) {
  const dir = tempDir(`dovecot-${label}`);
  return { dir, configPath: path.join(dir, 'dovecot.conf') };
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
const REFUSE_AT_ONCE = ['# bench probe: deliver refusals when decided (see bench/lib/dovecot.js)', 'passdb {', '  driver = static', '  args = noauthenticate nodelay=y', '}'];

/**
 * Starts one private Dovecot. kind: 'mailpassd' (authUrl), 'sql' (pg {host,port,dbname,user,password}),
 * 'static'. cache: undefined = as that passdb is deployed (shipped snippet / Dovecot default: off),
 * false = auth_cache_size 0, a string = that auth_cache_size. extra: lines appended.
 * refuseAtOnce: see REFUSE_AT_ONCE. doveadmHttp: {port, apiKey} opens the doveadm HTTP API
 * the way the README tells 2.3 users to (`doveadm_api_key` + `service doveadm { inet_listener http }`).
 */
export async function startDovecot({ kind, label = kind, authUrl, pg, home, cache, extra = [], refuseAtOnce = false, doveadmHttp = null, reserved }) {
  ensureGroup('mailpassd');
  const { dir, configPath } = reserved ?? dovecotDir(label);
  const baseDir = path.join(dir, 'run');
  const stateDir = path.join(dir, 'state');
  mkdirSync(baseDir, { mode: 0o755 });
  mkdirSync(stateDir, { mode: 0o755 });
  const logPath = path.join(dir, 'dovecot.log');
  const imapPort = await freePort();

  const auth = [];
  if (kind === 'mailpassd') {
    const luaPath = path.join(dir, 'mailpassd-auth.lua');
    copyFileSync(path.join(CONFIG_DIR, 'mailpassd-auth.lua'), luaPath);
    chmodSync(luaPath, 0o644);
    const snippet = adaptSnippet(readFileSync(path.join(CONFIG_DIR, 'mailpassd.conf'), 'utf8'), `file=${SHIPPED_LUA_PATH}`, `file=${luaPath}`, 2);
    const snippetPath = path.join(dir, 'mailpassd.conf');
    writeFileSync(snippetPath, snippet, { mode: 0o644 });
    auth.push(`!include ${snippetPath}`, `import_environment = $import_environment MAILPASSD_AUTH_URL=${authUrl}`);
  } else if (kind === 'sql') {
    const sqlPath = path.join(dir, 'dovecot-sql.conf.ext');
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
    auth.push('passdb {', '  driver = sql', `  args = ${sqlPath}`, '}');
    auth.push('userdb {', '  driver = static', `  args = uid=${VMAIL_UID} gid=${VMAIL_GID} home=${home}/%d/%n`, '}');
  } else if (kind === 'static') {
    auth.push('passdb {', '  driver = static', '  args = nopassword=y', '}');
    auth.push('userdb {', '  driver = static', `  args = uid=${VMAIL_UID} gid=${VMAIL_GID} home=${home}/%d/%n`, '}');
  } else throw new Error(`unknown Dovecot passdb kind ${kind}`);

  const cacheLines = cache === undefined ? [] : cache === false ? ['auth_cache_size = 0'] : [`auth_cache_size = ${cache}`];
  const conf = [
    `# Benchmark instance ${label}`,
    `base_dir = ${baseDir}`,
    `state_dir = ${stateDir}`,
    `log_path = ${logPath}`,
    `instance_name = mailpassd-bench-${label}-${imapPort}`,
    'listen = 127.0.0.1',
    'protocols = imap',
    'ssl = no',
    'disable_plaintext_auth = no',
    'default_internal_user = dovecot',
    'default_login_user = dovenull',
    'mail_location = maildir:~/Maildir',
    'auth_mechanisms = plain login',
    // Dovecot's "high-performance" login mode, the same for every instance: login
    // processes serve many connections and imap processes are forked ahead, so the
    // comparison measures the passdb rather than Dovecot's fork-per-login.
    'service imap {',
    '  process_min_avail = 4',
    '}',
    'service imap-login {',
    '  service_count = 0',
    '  process_min_avail = 2',
    '  inet_listener imap {',
    '    address = 127.0.0.1',
    `    port = ${imapPort}`,
    '  }',
    '  inet_listener imaps {',
    '    port = 0',
    '  }',
    '}',
    ...(doveadmHttp ? [`doveadm_api_key = ${doveadmHttp.apiKey}`, 'service doveadm {', '  inet_listener http {', '    address = 127.0.0.1', `    port = ${doveadmHttp.port}`, '  }', '}'] : []),
    ...(refuseAtOnce ? REFUSE_AT_ONCE : []),
    ...auth,
    ...cacheLines,
    ...extra,
    '',
  ].join('\n');
  writeFileSync(configPath, conf, { mode: 0o644 });

  const started = await runDaemonizing('dovecot', ['-c', configPath], path.join(dir, 'dovecot.start.out'));
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  if (started.code !== 0) throw new Error(`dovecot (${label}) failed to start (${started.code}): ${started.out}\n${log()}`);
  const pidFile = path.join(baseDir, 'master.pid');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopByPidFile(pidFile);
  };
  onCleanup(stop);
  const deadline = Date.now() + 10_000;
  while (!(existsSync(pidFile) && (await portOpen(imapPort)))) {
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`dovecot (${label}) did not open IMAP port ${imapPort}\n${log()}`);
    }
    await sleep(50);
  }
  return { label, kind, imapPort, configPath, baseDir, logPath, log, stop, masterPid: () => Number(readFileSync(pidFile, 'utf8').trim()) };
}

/** Source addresses 127.1.0.1 … : a different one per connection so Dovecot's per-IP penalties never apply. */
let srcCounter = 0;
export function nextSource() {
  const n = srcCounter++;
  return `127.${2 + (Math.floor(n / 62500) % 250)}.${1 + (Math.floor(n / 250) % 250)}.${1 + (n % 250)}`;
}

const quote = (s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Calls onLine for each CRLF-terminated line the server sends. */
function onImapLines(sock, onLine) {
  let buf = '';
  sock.setEncoding('latin1');
  sock.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      onLine(line);
    }
  });
}

/**
 * One IMAP session: connect (from `localAddress`), LOGIN, LOGOUT. Resolves
 * 'ok' | 'no' (authentication failed) | 'tempfail' | 'error:<text>', and the
 * time from connect to the LOGIN answer.
 */
export function imapLogin(port, user, password, { localAddress, timeoutMs = 15_000 } = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let state = 'greeting';
    let result = null;
    let loginMs = NaN;
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    const finish = (r) => {
      if (result !== null && r.startsWith('error')) r = result; // LOGIN already answered
      clearTimeout(timer);
      sock.destroy();
      resolve({ result: r, ms: loginMs });
    };
    const timer = setTimeout(() => finish('error:timeout'), timeoutMs);
    sock.on('error', (e) => finish(`error:${e.code ?? e.message}`));
    sock.on('close', () => finish(result ?? 'error:closed'));
    onImapLines(sock, (line) => {
      if (state === 'greeting' && line.startsWith('* OK')) {
        state = 'login';
        sock.write(`a LOGIN ${quote(user)} ${quote(password)}\r\n`);
      } else if (state === 'login' && line.startsWith('a ')) {
        loginMs = performance.now() - t0;
        if (line.startsWith('a OK')) {
          result = 'ok';
          state = 'logout';
          sock.write('b LOGOUT\r\n');
        } else {
          result = /UNAVAILABLE|Temporary/i.test(line) ? 'tempfail' : line.startsWith('a NO') ? 'no' : `error:${line}`;
          finish(result);
        }
      } else if (state === 'logout' && line.startsWith('b ')) {
        finish(result);
      }
    });
  });
}

/**
 * An IMAP session that logs in and then stays open, to be kicked. Resolves once
 * LOGIN succeeded (rejects otherwise) with `closed` (a promise of the moment the
 * server closed it) and `close()` (the client's own LOGOUT-less close).
 */
export function openSession(port, user, password, { localAddress, timeoutMs = 15_000 } = {}) {
  return new Promise((resolve, reject) => {
    let loggedIn = false;
    let markClosed;
    const closed = new Promise((r) => (markClosed = r));
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    const timer = setTimeout(() => sock.destroy(new Error('session: no LOGIN answer')), timeoutMs);
    sock.on('error', (e) => {
      if (!loggedIn) reject(e);
    });
    sock.on('close', () => {
      markClosed(performance.now());
      if (!loggedIn) reject(new Error('session closed before LOGIN answered'));
    });
    onImapLines(sock, (line) => {
      if (loggedIn) return;
      if (line.startsWith('* OK')) sock.write(`a LOGIN ${quote(user)} ${quote(password)}\r\n`);
      else if (line.startsWith('a ')) {
        clearTimeout(timer);
        if (!line.startsWith('a OK')) {
          sock.destroy();
          reject(new Error(`session LOGIN answered ${line}`));
          return;
        }
        loggedIn = true;
        resolve({ closed, close: () => sock.destroy() });
      }
    });
  });
}

/**
 * Runs `jobs` (array of {user, password}) through IMAP at a fixed concurrency.
 * Returns {n, seconds, rate, latencies (connect → LOGIN answer), failures, failureSamples}.
 */
export async function loginRun(port, jobs, concurrency) {
  let next = 0;
  const latencies = [];
  const failures = [];
  const t0 = performance.now();
  const worker = async () => {
    while (next < jobs.length) {
      const j = jobs[next++];
      const r = await imapLogin(port, j.user, j.password, { localAddress: nextSource() });
      if (r.result === 'ok') latencies.push(r.ms);
      else failures.push(`${j.user}: ${r.result}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { n: jobs.length, seconds, rate: jobs.length / seconds, latencies, failures: failures.length, failureSamples: failures.slice(0, 3) };
}
