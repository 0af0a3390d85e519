import type { Command } from 'commander';
import { request } from 'node:http';
import { CONFIG_KEYS, SECRET_KEYS, envNameOf, formatListen, type Config, type Listen } from '../../config/index.js';
import { followsNewMailboxRule, LOCAL_PART_RULE } from '../../core/address.js';
import { createDoveadm } from '../../dovecot/doveadm.js';
import { listAllMailboxPage, type MailboxCursor } from '../../store/sql/mailboxes.js';
import { openDatabase, ping } from '../../store/database.js';
import { pendingMigrations } from '../../store/migrate.js';
import { configFrom } from '../context.js';
import { exposureChecks, type ExposureCheck } from './doctor-exposure.js';
import { printJson, printLine, printTable, type GlobalOptions } from '../io.js';

type Check = ExposureCheck;

/** Mailboxes read per query by the mailbox-names check. */
const NAMES_PAGE = 1000;

function mask(key: string, value: unknown): unknown {
  if (value === undefined || value === null || !SECRET_KEYS.has(key)) return value;
  if (key === 'database_url') return String(value).replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:****@');
  return '****';
}

/** Each key's effective value (secrets masked) and where it came from. */
export function effectiveConfig(config: Config): Array<{ key: string; value: unknown; source: string; env: string }> {
  // The file form, as an operator would write it: `data_dir` resolved, `socket_mode` in octal.
  const shown: Record<string, unknown> = { data_dir: config.data_dir };
  return CONFIG_KEYS.map(({ key }) => {
    const value = shown[key] ?? key.split('.').reduce<unknown>((v, p) => (v as Record<string, unknown> | undefined)?.[p], config.derived.raw);
    return { key, value: mask(key, value), source: config.derived.sources.get(key) ?? 'default', env: envNameOf(key) };
  });
}

function probeHealth(listen: Listen): Promise<string> {
  return new Promise((resolve, reject) => {
    const target = listen.kind === 'unix' ? { socketPath: listen.path } : { host: listen.host, port: listen.port };
    const req = request({ ...target, path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      resolve(`answers /healthz with ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function runChecks(config: Config): Promise<Check[]> {
  const checks: Check[] = [{ check: 'config', ok: true, detail: config.derived.file ? `read ${config.derived.file}` : 'no config file; defaults and environment' }];
  const db = await openDatabase(config, 'cli').catch((err: Error) => err);
  if (db instanceof Error) {
    checks.push({ check: 'database', ok: false, detail: db.message });
  } else {
    try {
      await ping(db.pool);
      checks.push({ check: 'database', ok: true, detail: db.embedded ? `embedded PostgreSQL in ${config.data_dir}` : 'reachable' });
      const pending = await pendingMigrations(db.pool);
      checks.push({ check: 'migrations', ok: pending.length === 0, detail: pending.length ? `pending: ${pending.join(', ')} (run mailpassd migrate)` : 'current' });
      if (pending.length === 0) checks.push(await checkMailboxNames(db.pool));
    } catch (err) {
      checks.push({ check: 'database', ok: false, detail: (err as Error).message });
    } finally {
      await db.close();
    }
  }
  for (const [name, listen] of [['auth listener', config.auth.listen], ['admin listener', config.admin.listen]] as const) {
    const detail = await probeHealth(listen).then(
      (d) => ({ ok: true, d }),
      (e: Error) => ({ ok: false, d: `${e.message} (is mailpassd serve running?)` }),
    );
    checks.push({ check: name, ok: detail.ok, detail: `${formatListen(listen)}: ${detail.d}` });
  }
  checks.push(await checkDoveadm(config));
  checks.push(...exposureChecks(config));
  return checks;
}

/**
 * Mailboxes created before the rule for new names keep working (they log in,
 * rotate, flush - doveadm gets `--`), but one whose name holds a doveadm
 * wildcard is never kicked, so its rotations are reported not applied. They
 * are listed so an operator can move them to a new name.
 */
async function checkMailboxNames(pool: Parameters<typeof listAllMailboxPage>[0]): Promise<Check> {
  // A page at a time, keeping a count and the first few: the table may hold a million rows.
  const shown: string[] = [];
  let offending = 0;
  let after: MailboxCursor | null = null;
  do {
    const page = await listAllMailboxPage(pool, after, NAMES_PAGE);
    for (const m of page.rows) {
      if (followsNewMailboxRule(m.address)) continue;
      offending += 1;
      if (shown.length < 20) shown.push(m.address);
    }
    after = page.next;
  } while (after !== null);
  if (offending === 0) return { check: 'mailbox names', ok: true, detail: 'every mailbox name follows the rule for new mailboxes' };
  return {
    check: 'mailbox names',
    ok: false,
    detail: `${offending} mailbox(es) break the rule for new names (${LOCAL_PART_RULE}); they still log in and rotate, but a name with * or ? is never kicked: ${shown.join(', ')}${offending > shown.length ? ` (+${offending - shown.length} more)` : ''}`,
  };
}

/** Flushing the cache of a user that cannot exist proves the flush path works, and changes nothing. */
async function checkDoveadm(config: Config): Promise<Check> {
  const target = config.derived.doveadm_target;
  if (target.kind === 'none') return { check: 'dovecot', ok: true, detail: 'doveadm = none: rotations do not flush any Dovecot' };
  const doveadm = createDoveadm(target, config.rotation.doveadm_timeout_ms);
  try {
    await doveadm.flush('mailpassd-doctor@invalid.invalid');
    return { check: 'dovecot', ok: true, detail: `${target.kind}: auth cache flush works` };
  } catch (err) {
    return { check: 'dovecot', ok: false, detail: `${target.kind}: ${(err as Error).message}` };
  }
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('show the effective configuration (secrets masked) and check database, listeners and Dovecot')
    .action(async (_f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const config = configFrom(opts);
      const checks = await runChecks(config);
      const effective = effectiveConfig(config);
      if (opts.json) printJson({ config: effective, checks });
      else {
        printTable(effective.map((e) => ({ ...e, value: e.value === undefined ? '(unset)' : typeof e.value === 'string' ? e.value : JSON.stringify(e.value) })), ['key', 'value', 'source', 'env']);
        printLine('');
        printTable(checks.map((c) => ({ ...c, ok: c.ok ? 'ok' : c.warning ? 'WARN' : 'FAIL' })), ['check', 'ok', 'detail']);
      }
      const dbDown = checks.some((c) => c.check === 'database' && !c.ok);
      if (dbDown) process.exitCode = 69;
      // Warnings (exposure) are shown, not fatal: a test setup may run without a secret.
      else if (checks.some((c) => !c.ok && !c.warning && c.check !== 'auth listener' && c.check !== 'admin listener')) process.exitCode = 1;
    });
}
