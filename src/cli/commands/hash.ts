import type { Command } from 'commander';
import { hashPassword } from '../../auth/hash.js';
import { refused } from '../../core/errors.js';
import { checkPasswordInput } from '../../policy/password-input.js';
import { configFrom } from '../context.js';
import { printJson, printLine, promptHidden, readStdinSecret, type GlobalOptions } from '../io.js';

export function registerHash(program: Command): void {
  program
    .command('hash')
    .description('print an argon2id hash (Dovecot {ARGON2ID}-compatible) of a password read from a prompt or stdin')
    .option('--password-stdin', 'read the password from standard input')
    .option('--scheme', 'prefix the hash with {ARGON2ID} for Dovecot passdb files')
    .action(async (flags: { passwordStdin?: boolean; scheme?: boolean }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const config = configFrom(opts);
      const raw = flags.passwordStdin || !process.stdin.isTTY ? await readStdinSecret() : await promptHidden('Password: ');
      const input = checkPasswordInput(raw);
      if (!input.ok) throw refused(input.code, input.message);
      const hash = (flags.scheme ? '{ARGON2ID}' : '') + (await hashPassword(input.password, config.hash));
      if (opts.json) printJson({ hash });
      else printLine(hash);
    });
}
