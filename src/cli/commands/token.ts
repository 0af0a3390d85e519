import type { Command } from 'commander';
import * as tokens from '../../accounts/tokens.js';
import { cliActor, withContext } from '../context.js';
import { printJson, printLine, printTable, type GlobalOptions } from '../io.js';

export function registerToken(program: Command): void {
  const token = program.command('token').description('admin API bearer tokens');

  token
    .command('create')
    .description('create a token and print it once (only its SHA-256 is stored)')
    .requiredOption('--name <name>', 'a name to list and revoke it by')
    .option('--domain <domain>', 'limit the token to one domain')
    .action(async (flags: { name: string; domain?: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const { token: secret, row } = await withContext(opts, (ctx) => tokens.createToken(ctx, cliActor(), flags.name, flags.domain ?? null));
      if (opts.json) printJson({ name: row.name, domain: row.domain, token: secret });
      else {
        printLine(`token ${row.name} created${row.domain ? ` for domain ${row.domain}` : ''}; it is shown only now:`);
        printLine(secret);
      }
    });

  token
    .command('list')
    .description('list tokens (never the secrets)')
    .action(async (_f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const rows = await withContext(opts, (ctx) => tokens.listTokens(ctx));
      if (opts.json) printJson(rows);
      else printTable(rows as unknown as Array<Record<string, unknown>>, ['name', 'domain', 'created_at', 'last_used_at', 'revoked_at']);
    });

  token
    .command('revoke <name>')
    .description('revoke a token; requests with it get 401 from now on')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const row = await withContext(opts, (ctx) => tokens.revokeToken(ctx, cliActor(), name));
      if (opts.json) printJson(row);
      else printLine(`token ${row.name} revoked`);
    });
}
