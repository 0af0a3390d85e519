import type { Command } from 'commander';
import { grantAdmin, grantView, listAdmins, revokeAdmin, type Role } from '../../accounts/admins.js';
import { notFound, usage } from '../../core/errors.js';
import { cliActor, withContext } from '../context.js';
import { printJson, printLine, printTable, type GlobalOptions } from '../io.js';

interface RoleFlags {
  global?: boolean;
  domain?: string;
  all?: boolean;
}

/** Exactly one of --global / --domain; revoke also takes --all, which is what no flag means there. */
function roleFromFlags(flags: RoleFlags, allowAll: boolean): Role | 'all' {
  const given = [flags.global === true, flags.domain !== undefined, flags.all === true].filter(Boolean).length;
  if (given === 0 && allowAll) return 'all';
  const choices = allowAll ? '--global, --domain <domain> or --all' : '--global or --domain <domain>';
  if (given !== 1) throw usage('invalid_admin_role', `give exactly one of ${choices}`);
  if (flags.all) return 'all';
  return flags.global ? { kind: 'global' } : { kind: 'domain', domain: flags.domain! };
}

const roleText = (role: Role) => (role.kind === 'global' ? 'global admin' : `admin of ${role.domain}`);

export function registerAdmin(program: Command): void {
  const admin = program
    .command('admin')
    .description('web console administrators: roles granted to mailboxes, which sign in with their own password');

  admin
    .command('grant <address>')
    .description('make a mailbox a console administrator, of every domain (--global) or of one (--domain)')
    .option('--global', 'administers every domain, the cluster and other admins')
    .option('--domain <domain>', 'administers this domain only (repeat the command for more)')
    .action(async (address: string, flags: RoleFlags, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const role = roleFromFlags(flags, false) as Role;
      const grant = await withContext(opts, (ctx) => grantAdmin(ctx, cliActor(), address, role));
      if (opts.json) printJson(grantView(grant));
      else printLine(`${grant.address} is now ${roleText(grant.role)}`);
    });

  admin
    .command('revoke <address>')
    .description('take a console role away from a mailbox (its open console sessions lose it at once); exit 1 if it held no such role')
    .option('--global', 'the global role')
    .option('--domain <domain>', 'the role for this domain')
    .option('--all', 'every role the mailbox holds (the default)')
    .action(async (address: string, flags: RoleFlags, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const role = roleFromFlags(flags, true);
      const removed = await withContext(opts, (ctx) => revokeAdmin(ctx, cliActor(), address, role));
      if (removed === 0) throw notFound('admin_not_found', `${address} ${role === 'all' ? 'holds no admin role' : `is not ${roleText(role)}`}; nothing revoked`);
      if (opts.json) printJson({ address, removed });
      else printLine(`${removed} role(s) of ${address} revoked`);
    });

  admin
    .command('list')
    .description('list console administrators and their roles (with --domain: the admins of that domain)')
    .option('--domain <domain>', 'only the admins of this domain')
    .action(async (flags: { domain?: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const grants = await withContext(opts, (ctx) => listAdmins(ctx, flags.domain));
      if (opts.json) printJson(grants.map(grantView));
      else printTable(grants.map(grantView) as unknown as Array<Record<string, unknown>>, ['address', 'role', 'domain', 'granted_at', 'granted_by']);
    });
}
