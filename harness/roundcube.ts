/**
 * A private Roundcube (Debian's roundcube-core 1.6 + roundcube-plugins) for the
 * browser tests: PHP's built-in server, SQLite, the password plugin with the
 * settings and driver we ship, IMAP through a test Dovecot. Loopback only.
 *
 * Roundcube's code stays where Debian put it. The instance gets a tree of its
 * own that links to it, because the plugin loads its driver and its
 * config.inc.php from its own directory: the tree's plugins/password/ holds a
 * copy of the shipped config and driver, everything else is linked.
 * (shared/reference/roundcube.md has how this was worked out.)
 */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CONFIG_DIR } from './paths.js';
import { freePort, run, waitFor } from './process.js';
import { tempDir } from './tmp.js';

const DEBIAN_ROOT = '/var/lib/roundcube';
const DEBIAN_PLUGINS = '/usr/share/roundcube/plugins';

export interface RoundcubeOptions {
  /** Dovecot's loopback IMAP port. */
  imapPort: number;
  /** Settings appended to the shipped config/roundcube/<pluginConfig>, as PHP literals: `{ password_mailpassd_url: "'http://…'" }`. */
  passwordSettings?: Record<string, string>;
  /** The shipped plugin config to use (default password.inc.php, the mailpassd driver). */
  pluginConfig?: string;
}

export interface Roundcube {
  url: string;
  dir: string;
  /** PHP's server output and Roundcube's own error log. */
  log(): string;
  stop(): Promise<void>;
}

/** Links every entry of `from` into `to`, except the ones named. */
function linkAll(from: string, to: string, except: string[] = []): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) if (!except.includes(entry)) symlinkSync(join(from, entry), join(to, entry));
}

const phpString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export async function startRoundcube(opts: RoundcubeOptions): Promise<Roundcube> {
  const tmp = tempDir('roundcube');
  const root = join(tmp.dir, 'rc');
  // INSTALL_PATH is realpath(public_html/..): public_html and its index.php must be real here.
  linkAll(DEBIAN_ROOT, root, ['public_html', 'plugins', 'config', 'logs', 'temp']);
  linkAll(join(DEBIAN_ROOT, 'public_html'), join(root, 'public_html'), ['index.php']);
  copyFileSync(join(DEBIAN_ROOT, 'public_html', 'index.php'), join(root, 'public_html', 'index.php'));
  linkAll(join(DEBIAN_ROOT, 'plugins'), join(root, 'plugins'), ['password']);
  const password = join(root, 'plugins', 'password');
  linkAll(join(DEBIAN_PLUGINS, 'password'), password, ['drivers', 'config.inc.php']);
  linkAll(join(DEBIAN_PLUGINS, 'password', 'drivers'), join(password, 'drivers'));
  // The install step of the README: the driver copied into the plugin's drivers/.
  copyFileSync(join(CONFIG_DIR, 'roundcube', 'mailpassd.php'), join(password, 'drivers', 'mailpassd.php'));
  const settings = Object.entries(opts.passwordSettings ?? {}).map(([k, v]) => `$config[${phpString(k)}] = ${v};`);
  writeFileSync(
    join(password, 'config.inc.php'),
    `${readFileSync(join(CONFIG_DIR, 'roundcube', opts.pluginConfig ?? 'password.inc.php'), 'utf8')}\n// test settings\n${settings.join('\n')}\n`,
  );

  const config = join(root, 'config');
  mkdirSync(config);
  for (const f of ['defaults.inc.php', 'mimetypes.php']) copyFileSync(join('/etc/roundcube', f), join(config, f));
  const db = join(tmp.dir, 'roundcube.sqlite');
  const init = await run('sh', ['-c', `sqlite3 "${db}" < /usr/share/roundcube/SQL/sqlite.initial.sql`]);
  if (init.code !== 0) throw new Error(`sqlite3: ${init.stderr}`);
  for (const d of ['logs', 'temp']) mkdirSync(join(root, d));
  writeFileSync(
    join(config, 'config.inc.php'),
    [
      '<?php',
      '$config = [];',
      `$config['db_dsnw'] = ${phpString(`sqlite:///${db}?mode=0600`)};`,
      `$config['imap_host'] = '127.0.0.1:${opts.imapPort}';`,
      `$config['default_host'] = '127.0.0.1';`, // 1.5's name for the host; 1.6 reads imap_host
      `$config['default_port'] = ${opts.imapPort};`,
      `$config['smtp_host'] = '';`,
      `$config['des_key'] = ${phpString(randomBytes(12).toString('hex'))};`,
      `$config['plugins'] = ['password'];`,
      `$config['skin'] = 'elastic';`,
      `$config['log_dir'] = ${phpString(join(root, 'logs'))};`,
      `$config['temp_dir'] = ${phpString(join(root, 'temp'))};`,
      `$config['enable_installer'] = false;`,
      // No language forced: a new user gets the browser's (Accept-Language), as in production.
      '',
    ].join('\n'),
  );

  const port = await freePort();
  const logFile = join(tmp.dir, 'php.log');
  const fd = openSync(logFile, 'a');
  const child = spawn('php', ['-S', `127.0.0.1:${port}`, '-t', join(root, 'public_html')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ROUNDCUBE_CONFIG_DIR: config, PHP_CLI_SERVER_WORKERS: '2' },
    stdio: ['ignore', fd, fd],
    // A group of its own: with workers, SIGTERM to php -S alone left its worker processes running after every test run.
    detached: true,
  });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
    tmp.remove();
  };
  try {
    await waitFor(`Roundcube on ${url}`, 20_000, async () => {
      if (child.exitCode !== null) throw new Error(`php -S exited: ${read(logFile)}`);
      return (await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) })).status === 200;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, dir: root, log: () => `${read(logFile)}\n${read(join(root, 'logs', 'errors.log'))}`, stop };
}
