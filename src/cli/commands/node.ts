import type { Command } from 'commander';
import { notFound } from '../../core/errors.js';
import { deleteNode, listNodes } from '../../store/sql/nodes.js';
import { appendAudit } from '../../store/sql/audit.js';
import { withTransaction } from '../../store/pool.js';
import { cliActor, withContext } from '../context.js';
import { printJson, printLine, printTable, type GlobalOptions } from '../io.js';

export function registerNode(program: Command): void {
  const node = program.command('node').description('the mailpassd daemons (one per mail node) and their rotation cursors');

  node
    .command('list')
    .description('every node: last heartbeat, stale or live, applied invalidation, invalidations it gave up on, last doveadm error')
    .action(async (_f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const rows = await withContext(opts, (ctx) => listNodes(ctx.pool, ctx.config.rotation.stale_after_ms));
      if (opts.json) printJson(rows);
      else
        printTable(
          rows.map((r) => ({ ...r, state: r.stale ? 'stale' : 'live', applied: r.applied_invalidation_id, failed: r.failed_invalidations, last_failed: r.last_failed_invalidation_id ?? '' })),
          ['node_id', 'hostname', 'state', 'heartbeat_at', 'applied', 'failed', 'last_failed', 'doveadm', 'last_error'],
        );
    });

  node
    .command('remove <node-id>')
    .description('forget a decommissioned node (a running daemon registers itself again)')
    .action(async (nodeId: string, _f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      await withContext(opts, (ctx) =>
        withTransaction(ctx.pool, async (tx) => {
          if (!(await deleteNode(tx, nodeId))) throw notFound('node_not_found', `no node ${nodeId}`);
          await appendAudit(tx, { ...cliActor(), action: 'node.remove', target: nodeId });
        }),
      );
      if (opts.json) printJson({ removed: nodeId });
      else printLine(`node ${nodeId} removed`);
    });
}
