/**
 * A private Postfix (Debian 12: 3.7) for SMTP AUTH end-to-end tests, per
 * shared/reference/dovecot.md: its own config directory, queue and data
 * directories in a temp dir, an smtpd on a free loopback port, chroot "n"
 * everywhere, logs to stdout of `postfix start-fg` (no syslog here).
 *
 * Wired through the shipped config/postfix/main.cf.snippet, appended to a
 * minimal main.cf; the only adaptation is smtpd_sasl_path (given again
 * after the snippet: the test Dovecot's auth-postfix socket). The snippet
 * announces AUTH only after STARTTLS, so the instance gets a throwaway
 * self-signed certificate and clients use STARTTLS (swaks --tls).
 *
 * Needs root and: postfix swaks openssl.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_DIR } from './paths.js';
import { freePort, readPidFile, run, sleep, type RunResult } from './process.js';
import { userIds } from './system.js';
import { keepDirs, tempDir } from './tmp.js';

export interface PostfixInstance {
  smtpPort: number;
  configDir: string;
  /** What Postfix logged so far (maillog_file = /dev/stdout). */
  log(): string;
  stop(): Promise<void>;
}

export interface PostfixOptions {
  /** Dovecot's auth socket for Postfix (DovecotInstance.authClientSocket). */
  saslPath: string;
  /** Deliver mail for these domains to Dovecot's LMTP on this loopback port (DovecotInstance.lmtpPort). */
  lmtp?: { port: number; domains: string[] };
  /** The smtpd port, when a client must know it before Postfix starts (default: a free one). */
  smtpPort?: number;
}

export async function startPostfix(opts: PostfixOptions): Promise<PostfixInstance> {
  if (process.getuid?.() !== 0) throw new Error('the Postfix e2e tests need root');
  const tmp = tempDir('postfix');
  const dir = tmp.dir;
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'spool');
  const dataDir = join(dir, 'data');
  mkdirSync(configDir, { mode: 0o755 });
  mkdirSync(queueDir, { mode: 0o755 });
  mkdirSync(dataDir, { mode: 0o700 });
  const pf = userIds('postfix');
  // master fails "open lock file … Permission denied" unless postfix owns it.
  chownSync(dataDir, pf.uid, pf.gid);

  const cert = join(configDir, 'cert.pem');
  const key = join(configDir, 'key.pem');
  const ssl = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=mail.test.invalid', '-keyout', key, '-out', cert],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (ssl.status !== 0) {
    tmp.remove();
    throw new Error(`openssl failed: ${ssl.stderr}`);
  }

  const smtpPort = opts.smtpPort ?? (await freePort());
  const snippet = readFileSync(join(CONFIG_DIR, 'postfix', 'main.cf.snippet'), 'utf8');
  const mainCf = [
    '# private test instance',
    'compatibility_level = 3.6',
    `queue_directory = ${queueDir}`,
    `data_directory = ${dataDir}`,
    'command_directory = /usr/sbin',
    'daemon_directory = /usr/lib/postfix/sbin',
    'shlib_directory = /usr/lib/postfix',
    'meta_directory = /etc/postfix',
    'mail_owner = postfix',
    'setgid_group = postdrop',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'myhostname = mail.test.invalid',
    'mydestination =',
    'mynetworks = 192.0.2.0/32',
    'alias_maps =',
    'alias_database =',
    'maillog_file = /dev/stdout',
    'smtpd_tls_security_level = may',
    `smtpd_tls_cert_file = ${cert}`,
    `smtpd_tls_key_file = ${key}`,
    'smtpd_tls_loglevel = 0',
    ...(opts.lmtp
      ? [
          '# mailboxes of these domains are delivered to the test Dovecot over LMTP',
          `virtual_mailbox_domains = ${opts.lmtp.domains.join(', ')}`,
          `virtual_transport = lmtp:inet:127.0.0.1:${opts.lmtp.port}`,
          // Deliver at once and retry soon: a test waits for the mail, not for Postfix's default minutes.
          'queue_run_delay = 1s',
          'minimal_backoff_time = 1s',
          'maximal_backoff_time = 2s',
        ]
      : []),
    '',
    '# ---- config/postfix/main.cf.snippet (shipped) ----',
    snippet,
  ].join('\n');
  writeFileSync(join(configDir, 'main.cf'), mainCf, { mode: 0o644 });
  // The documented adaptation: where this Dovecot listens (postconf -e
  // rewrites the snippet's line in place).
  const set = await run('postconf', ['-c', configDir, '-e', `smtpd_sasl_path=${opts.saslPath}`], 20_000);
  if (set.code !== 0) {
    tmp.remove();
    throw new Error(`postconf -e failed: ${set.stderr}`);
  }
  // service type private unpriv chroot wakeup maxproc command: internal unix
  // services private ('-'), the smtpd port public ('n'), nothing chrooted.
  // cleanup, pickup, qmgr and flush are public as in Debian's master.cf: smtpd
  // hands a message it accepts to public/cleanup (the SMTP AUTH tests stop
  // before DATA; the notices test delivers).
  const PUBLIC = new Set(['cleanup', 'pickup', 'qmgr', 'flush']);
  const svc = (name: string, type: string, maxproc: string, command: string) =>
    `${name}\t${type}\t${type === 'inet' || PUBLIC.has(name) ? 'n' : '-'}\t-\tn\t-\t${maxproc}\t${command}`;
  const masterCf = [
    svc(`127.0.0.1:${smtpPort}`, 'inet', '-', 'smtpd'),
    svc('pickup', 'unix', '1', 'pickup'),
    svc('cleanup', 'unix', '0', 'cleanup'),
    svc('qmgr', 'unix', '1', 'qmgr'),
    svc('tlsmgr', 'unix', '1', 'tlsmgr'),
    svc('rewrite', 'unix', '-', 'trivial-rewrite'),
    svc('bounce', 'unix', '0', 'bounce'),
    svc('defer', 'unix', '0', 'bounce'),
    svc('trace', 'unix', '0', 'bounce'),
    svc('verify', 'unix', '1', 'verify'),
    svc('flush', 'unix', '0', 'flush'),
    svc('proxymap', 'unix', '-', 'proxymap'),
    svc('smtp', 'unix', '-', 'smtp'),
    svc('relay', 'unix', '-', 'smtp'),
    svc('error', 'unix', '-', 'error'),
    svc('retry', 'unix', '-', 'error'),
    svc('discard', 'unix', '-', 'discard'),
    svc('local', 'unix', '-', 'local'),
    svc('lmtp', 'unix', '-', 'lmtp'),
    svc('virtual', 'unix', '-', 'virtual'),
    svc('anvil', 'unix', '1', 'anvil'),
    svc('scache', 'unix', '1', 'scache'),
    `postlog\tunix-dgram\tn\t-\tn\t-\t1\tpostlogd`,
    '',
  ].join('\n');
  writeFileSync(join(configDir, 'master.cf'), masterCf, { mode: 0o644 });

  // Output to a file, not a pipe: Node's stdio "pipes" are sockets, and
  // Postfix's logger cannot open /dev/stdout on a socket (ENXIO) - then
  // even "starting the Postfix mail system" fails and start-fg exits 1.
  const logFile = join(dir, 'postfix.log');
  const logFd = openSync(logFile, 'a');
  const child: ChildProcess = spawn('postfix', ['-c', configDir, 'start-fg'], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  let stopped = false;
  const masterPid = () => {
    const pid = readPidFile(join(queueDir, 'pid', 'master.pid'));
    return pid !== null && pid > 1 ? pid : null;
  };
  const instance: PostfixInstance = {
    smtpPort,
    configDir,
    log: readLog,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        await run('postfix', ['-c', configDir, 'stop'], 20_000);
        const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
        if (!done) {
          const pid = masterPid();
          if (pid) process.kill(pid, 'SIGKILL');
          child.kill('SIGKILL');
          await Promise.race([exited, sleep(5_000)]);
        }
      }
      if (!keepDirs()) rmSync(dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = readLog();
      await instance.stop();
      throw new Error(`postfix start-fg exited with ${child.exitCode}:\n${log}`);
    }
    const probe = await smtpGreeting(smtpPort);
    if (probe.startsWith('220')) break;
    if (Date.now() > deadline) {
      const log = readLog();
      await instance.stop();
      throw new Error(`postfix did not answer on ${smtpPort} within 30 s:\n${log}`);
    }
    await sleep(100);
  }
  return instance;
}

async function smtpGreeting(port: number): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolveGreeting) => {
    const s = connect({ host: '127.0.0.1', port });
    let data = '';
    const t = setTimeout(() => {
      s.destroy();
      resolveGreeting(data);
    }, 2_000);
    s.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n')) {
        clearTimeout(t);
        s.end('QUIT\r\n');
        s.destroy();
        resolveGreeting(data);
      }
    });
    s.on('error', () => {
      clearTimeout(t);
      resolveGreeting('');
    });
  });
}

export interface SwaksResult extends RunResult {
  /** The server's final answer to AUTH, e.g. `235 2.7.0 Authentication successful`. */
  authReply: string | null;
}

/** SMTP AUTH PLAIN after STARTTLS with swaks; stops after AUTH. */
export async function swaksAuth(port: number, user: string, password: string, opts: { localAddress?: string; timeoutMs?: number } = {}): Promise<SwaksResult> {
  const args = [
    '--server', `127.0.0.1:${port}`,
    '--tls',
    '--auth', 'PLAIN',
    '--auth-user', user,
    '--auth-password', password,
    '--quit-after', 'AUTH',
    '--timeout', '30',
    ...(opts.localAddress ? ['--local-interface', opts.localAddress] : []),
  ];
  const r = await run('swaks', args, opts.timeoutMs ?? 45_000);
  // swaks marks server lines with "<~ " (after TLS) or "<- ", failures with "<~*" / "<**".
  const lines = r.stdout.split('\n').map((l) => l.replace(/^\s*<[~*-]+\*?\s?/, '').trim());
  const authReply = [...lines].reverse().find((l) => /^(235|535|454|535)\b/.test(l)) ?? null;
  return { ...r, authReply };
}
