import { Command, CommanderError, Option } from 'commander';
import { MailpassdError, exitCodeFor } from '../core/errors.js';
import { asUnavailable } from '../store/pool.js';
import { registerServe } from './commands/serve.js';
import { registerDomain } from './commands/domain.js';
import { registerMailbox } from './commands/mailbox.js';
import { registerRotate } from './commands/rotate.js';
import { registerToken } from './commands/token.js';
import { registerHash } from './commands/hash.js';
import { registerDoctor } from './commands/doctor.js';
import { registerAudit } from './commands/audit.js';
import { registerNode } from './commands/node.js';
import { registerAppPassword } from './commands/app-password.js';
import { registerAdmin } from './commands/admin.js';
import { registerTotp } from './commands/totp.js';
import { PACKAGE_VERSION } from './version.js';

export function buildProgram(): Command {
  const program = new Command('mailpassd')
    .description('Password authority for a self-hosted mail platform: Dovecot passdb/userdb, rotation, password policy.')
    .version(PACKAGE_VERSION)
    .addOption(new Option('-c, --config <path>', 'config file (default: $MAILPASSD_CONFIG, else /etc/mailpassd/mailpassd.toml)'))
    .option('--json', 'machine-readable output on stdout')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });
  program.command('checkpassword <reply-program...>').description('Dovecot 2.3 checkpassword passdb: reads user\\0password\\0 from fd 3');
  registerServe(program);
  registerDomain(program);
  registerMailbox(program);
  registerRotate(program);
  registerToken(program);
  registerHash(program);
  registerDoctor(program);
  registerAudit(program);
  registerNode(program);
  registerAppPassword(program);
  registerAdmin(program);
  registerTotp(program);
  for (const cmd of program.commands) inheritExitOverride(cmd);
  return program;
}

function inheritExitOverride(cmd: Command): void {
  cmd.exitOverride().showHelpAfterError();
  for (const sub of cmd.commands) inheritExitOverride(sub);
}

/** Runs the CLI and returns the exit status (CONTRACT: 0, 1, 64, 69, 78). */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code)) return 0;
      return 64;
    }
    const e = asUnavailable(err);
    if (e instanceof MailpassdError) {
      const json = program.opts<{ json?: boolean }>().json;
      if (json) process.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message, ...e.details } })}\n`);
      process.stderr.write(`mailpassd: ${e.kind === 'internal' ? 'internal error: ' : ''}${e.message}\n`);
      return exitCodeFor(e.kind);
    }
    process.stderr.write(`mailpassd: internal error: ${(err as Error).message}\n`);
    return 70;
  }
}
