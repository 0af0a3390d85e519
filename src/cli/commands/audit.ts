import type { Command } from 'commander';
import { listAudit } from '../../store/sql/audit.js';
import { withContext } from '../context.js';
import { printJson, printTable, type GlobalOptions } from '../io.js';

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('show the newest audit log entries')
    .option('--target <name>', 'only entries about this domain, mailbox or token')
    .option('--limit <n>', 'how many', '50')
    .action(async (flags: { target?: string; limit: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const limit = Math.min(Math.max(Number(flags.limit) || 50, 1), 10_000);
      const rows = await withContext(opts, (ctx) => listAudit(ctx.pool, flags.target?.toLowerCase() ?? null, limit));
      if (opts.json) printJson(rows);
      else printTable(rows.map((r) => ({ ...r, details: JSON.stringify(r.details) })), ['id', 'at', 'actor', 'action', 'target', 'source_ip', 'details']);
    });
}
