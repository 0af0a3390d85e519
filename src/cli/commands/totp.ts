import type { Command } from 'commander';
import { resetTotp, totpStatus } from '../../accounts/totp.js';
import { cliActor, withContext } from '../context.js';
import { printJson, printLine, type GlobalOptions } from '../io.js';

/** The console's second factor, from the admin's side: who has it, and letting back in a user who lost it. */
export function registerTotp(program: Command): void {
  const cmd = program.command('totp').description("a mailbox's second factor (TOTP) for the web console: status, and reset when the phone and the recovery codes are lost");

  cmd
    .command('status <address>')
    .description('whether the mailbox has TOTP on (since when, unused recovery codes) or an enrolment started; never the secret or the codes')
    .action(async (address: string, _f: unknown, c: Command) => {
      const opts = c.optsWithGlobals<GlobalOptions>();
      const s = await withContext(opts, (ctx) => totpStatus(ctx, address));
      if (opts.json) printJson(s);
      else if (s.enabled) printLine(`${s.address}: TOTP on since ${s.enabled_at}; ${s.recovery_codes_left} unused recovery code(s) left`);
      else printLine(`${s.address}: TOTP off${s.pending ? ' (enrolment started, not confirmed)' : ''}`);
    });

  cmd
    .command('reset <address>')
    .description(
      'remove the TOTP secret and the recovery codes and end the mailbox\'s console sessions (audited); the password alone signs in again ' +
        '(admins must enrol again at sign-in when console.require_totp_for_admins is on) and opens mail services again unless app passwords are required. ' +
        'Exit status 1 when there is nothing to reset (no TOTP, not even a started enrolment)',
    )
    .action(async (address: string, _f: unknown, c: Command) => {
      const opts = c.optsWithGlobals<GlobalOptions>();
      const r = await withContext(opts, (ctx) => resetTotp(ctx, cliActor(), address));
      if (opts.json) printJson(r);
      else
        printLine(
          `${r.address}: ${r.was_enabled ? `second factor reset (${r.recovery_codes_removed} unused recovery code(s) removed)` : 'unconfirmed TOTP enrolment removed'}; ` +
            `${r.console_sessions_ended} console session(s) ended`,
        );
    });
}
