import type { Command } from 'commander';
import { usage } from '../../core/errors.js';
import { normalizeAddress, normalizeDomain } from '../../core/address.js';
import { APP_PASSWORD_BITS, parseLifetime } from '../../auth/app-password.js';
import { createAppPassword, listAppPasswords, requireAppPasswords } from '../../accounts/app-passwords.js';
import { revokeAppPassword } from '../../rotation/revoke-app-password.js';
import { cliActor, withContext } from '../context.js';
import { printJson, printLine, printTable, type GlobalOptions } from '../io.js';

export function registerAppPassword(program: Command): void {
  const cmd = program.command('app-password').description('per-device passwords of a mailbox for mail clients (generated, shown once)');

  cmd
    .command('add <address>')
    .description(`generate an app password (${Math.floor(APP_PASSWORD_BITS)} bits) and print it once`)
    .requiredOption('--name <name>', 'the device it is for, e.g. "Phone"; revoke it by this name')
    .option('--scope <services>', 'comma-separated: imap, pop3, smtp (also submission), sieve (default: all)')
    .option('--expires <duration>', 'lifetime: 90d, 12h, 30m (default: never)')
    .action(async (address: string, flags: { name: string; scope?: string; expires?: string }, c: Command) => {
      const opts = c.optsWithGlobals<GlobalOptions>();
      let lifetimeMs: number | null = null;
      if (flags.expires !== undefined) {
        lifetimeMs = parseLifetime(flags.expires);
        if (lifetimeMs === null) throw usage('invalid_app_password_expiry', `--expires ${flags.expires}: expected a duration such as 90d, 12h or 30m`);
      }
      const r = await withContext(opts, (ctx) => createAppPassword(ctx, cliActor(), { address, name: flags.name, scopes: flags.scope, lifetimeMs }));
      if (opts.json) printJson({ address: r.address, password: r.password, app_password: r.appPassword });
      else {
        printLine(`app password "${r.appPassword.name}" of ${r.address} for ${r.appPassword.scopes.join(', ')}${r.appPassword.expires_at ? `, expires ${r.appPassword.expires_at}` : ''}; shown only now:`);
        printLine(r.password);
      }
    });

  cmd
    .command('list <address>')
    .description('list the app passwords of a mailbox (never the passwords)')
    .action(async (address: string, _f: unknown, c: Command) => {
      const opts = c.optsWithGlobals<GlobalOptions>();
      const r = await withContext(opts, (ctx) => listAppPasswords(ctx, address));
      if (opts.json) printJson({ address: r.address, app_passwords: r.appPasswords });
      else if (r.appPasswords.length === 0) printLine(`${r.address} has no app passwords`);
      else
        printTable(
          r.appPasswords.map((a) => ({ ...a, scopes: a.scopes.join(',') })),
          ['name', 'scopes', 'expires_at', 'created_at', 'last_used_at', 'last_used_ip', 'last_used_service'],
        );
    });

  cmd
    .command('revoke <address> <name>')
    .description('delete an app password at once and end the sessions that used it (or, where Dovecot cannot tell them apart, the mailbox\'s)')
    .option('--wait <seconds>', 'how long to wait for the nodes', '10')
    .action(async (address: string, name: string, flags: { wait: string }, c: Command) => {
      const opts = c.optsWithGlobals<GlobalOptions>();
      const seconds = Number(flags.wait);
      if (!Number.isFinite(seconds) || seconds < 0 || seconds > 120) throw usage('invalid_wait', `--wait ${flags.wait}: expected 0-120 seconds`);
      const r = await withContext(opts, (ctx) => revokeAppPassword(ctx, cliActor(), address, name, Math.round(seconds * 1000)));
      if (opts.json) printJson(r);
      else {
        printLine(`app password "${r.name}" of ${r.address} revoked; ${r.kicked === 'app_password' ? 'its sessions' : 'all sessions of the mailbox'} kicked`);
        if (r.nodes.length === 0) printLine('no mailpassd node is registered: nothing to flush');
        else printTable(r.nodes.map((n) => ({ ...n, state: n.applied ? 'applied' : n.failed ? 'NOT APPLIED (gave up)' : n.stale ? 'stale (not waited for)' : 'NOT APPLIED' })), ['node_id', 'state', 'kicked', 'error']);
      }
      if (!r.complete) process.exitCode = 1;
    });

  cmd
    .command('require <address-or-domain>')
    .description('mail clients (imap, pop3, smtp, sieve) must use app passwords (Dovecot\'s cache is flushed for the mailbox, or each of the domain\'s, on every node); the main password keeps working from app_passwords.webmail_ips')
    .option('--off', 'allow the main password again')
    .action(async (target: string, flags: { off?: boolean }, c: Command) => {
      const opts = c.optsWithGlobals<GlobalOptions>();
      const required = !flags.off;
      const shown = target.includes('@') ? normalizeAddress(target).address : normalizeDomain(target);
      await withContext(opts, (ctx) => requireAppPasswords(ctx, cliActor(), target.includes('@') ? { address: shown } : { domain: shown }, required));
      if (opts.json) printJson({ target: shown, required });
      else printLine(`${shown}: app passwords ${required ? 'required for mail clients' : 'no longer required'}`);
    });
}
