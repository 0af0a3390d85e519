import type { Command } from 'commander';
import { usage } from '../../core/errors.js';
import { rotateAndWait } from '../../rotation/service.js';
import { cliActor, withContext } from '../context.js';
import { printJson, printLine, printTable, type GlobalOptions } from '../io.js';
import { passwordFromFlags, type PasswordFlags } from './mailbox.js';

export function registerRotate(program: Command): void {
  program
    .command('rotate <address>')
    .description('set a new password and wait until every live node flushed Dovecot\'s cache and kicked the sessions')
    .option('--password-stdin', 'read the new password from standard input')
    .option('--generate', 'generate a strong password and print it once')
    .option('--wait <seconds>', 'how long to wait for the nodes', '10')
    .option('--no-kick', 'flush caches but leave open sessions alone')
    .action(async (address: string, flags: PasswordFlags & { wait: string; kick: boolean }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const seconds = Number(flags.wait);
      if (!Number.isFinite(seconds) || seconds < 0 || seconds > 120) throw usage('invalid_wait', `--wait ${flags.wait}: expected 0-120 seconds`);
      const password = await passwordFromFlags(flags);
      const r = await withContext(opts, (ctx) =>
        rotateAndWait(ctx, null, cliActor(), { address, password, kick: flags.kick, reason: 'rotate', waitMs: Math.round(seconds * 1000) }),
      );
      if (opts.json) {
        printJson({
          address: r.address,
          credential_version: r.credentialVersion,
          invalidation_id: r.invalidationId,
          ...(r.generated ? { generated_password: r.generated } : {}),
          complete: r.complete,
          // The documented shape (CONTRACT); applied_ms and kicked are the console's for now.
          nodes: r.nodes.map(({ node_id, applied, stale, error, failed }) => ({ node_id, applied, stale, ...(error !== undefined ? { error } : {}), ...(failed ? { failed } : {}) })),
        });
      } else {
        printLine(`password of ${r.address} changed (credential version ${r.credentialVersion})`);
        if (r.generated) printLine(`generated password (shown once): ${r.generated}`);
        if (r.nodes.length === 0) printLine('no mailpassd node is registered: nothing to flush');
        else printTable(r.nodes.map((n) => ({ ...n, state: n.applied ? 'applied' : n.failed ? 'NOT APPLIED (gave up)' : n.stale ? 'stale (not waited for)' : 'NOT APPLIED' })), ['node_id', 'state', 'error']);
      }
      if (!r.complete) process.exitCode = 1;
    });
}
