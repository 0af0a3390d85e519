import type { Command } from 'commander';
import * as domains from '../../accounts/domains.js';
import { cliActor, withContext } from '../context.js';
import { printJson, printLine, printTable, type GlobalOptions } from '../io.js';

export function registerDomain(program: Command): void {
  const domain = program.command('domain').description('manage mail domains');

  domain
    .command('add <domain>')
    .description('add a domain (IDNA names are stored in ASCII form)')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const row = await withContext(opts, (ctx) => domains.addDomain(ctx, cliActor(), name));
      if (opts.json) printJson(row);
      else printLine(`domain ${row.name} added`);
    });

  domain
    .command('list')
    .description('list domains with their mailbox counts')
    .action(async (_f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const rows = await withContext(opts, (ctx) => domains.listDomains(ctx));
      if (opts.json) printJson(rows);
      else printTable(rows.map((r) => ({ ...r, mailboxes: r.mailbox_count })), ['name', 'enabled', 'mailboxes', 'created_at']);
    });

  domain
    .command('remove <domain>')
    .description('remove a domain that has no mailboxes left')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      await withContext(opts, (ctx) => domains.removeDomain(ctx, cliActor(), name));
      if (opts.json) printJson({ removed: name });
      else printLine(`domain ${name} removed`);
    });
}
