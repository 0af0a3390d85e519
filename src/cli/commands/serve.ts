import type { Command } from 'commander';
import { configFrom, withContext } from '../context.js';
import { printJson, printLine, type GlobalOptions } from '../io.js';
import { migrate } from '../../store/migrate.js';

interface ServeFlags {
  migrate: boolean;
  authListen?: string;
  adminListen?: string;
  nodeId?: string;
  dataDir?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the daemon: auth listener (Dovecot) and admin listener (API), rotation fan-out')
    .option('--no-migrate', 'do not apply migrations on start (fail if any are pending)')
    .option('--auth-listen <addr>', 'auth listener, host:port or unix:/path (overrides auth.listen)')
    .option('--admin-listen <addr>', 'admin listener, host:port or unix:/path (overrides admin.listen)')
    .option('--node-id <id>', 'this daemon\'s name in the nodes table')
    .option('--data-dir <dir>', 'data directory (embedded PostgreSQL, sockets)')
    .action(async (flags: ServeFlags, cmd: Command) => {
      const config = configFrom(cmd.optsWithGlobals<GlobalOptions>(), {
        'auth.listen': flags.authListen,
        'admin.listen': flags.adminListen,
        node_id: flags.nodeId,
        data_dir: flags.dataDir,
      });
      // Loaded here so other commands do not pay for fastify and the HTTP stack.
      const { serveUntilSignal } = await import('../../daemon/serve.js');
      await serveUntilSignal(config, { migrate: flags.migrate });
    });

  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .action(async (_flags: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const applied = await withContext(opts, async (ctx) => migrate(ctx.pool), { check: false });
      if (opts.json) printJson({ applied });
      else printLine(applied.length ? `applied: ${applied.join(', ')}` : 'database schema is current');
    });
}
