import type { Command } from 'commander';
import * as domains from '../../accounts/domains.js';
import { cliActor, withContext } from '../context.js';
import { usage } from '../../core/errors.js';
import { LIST_PAGE, MAX_LIST_PAGE, pagedPrinter, pageSizeOf, printJson, printLine, type GlobalOptions } from '../io.js';

const POLICY_FLAGS: Record<string, string> = {
  minLength: 'minLength',
  minClasses: 'minClasses',
  minScore: 'minScore',
  history: 'historyCount',
  maxAgeDays: 'maxAgeDays',
};

/** Flags → override keys; values are checked by the same parser the API uses. */
function policyChanges(flags: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const changes: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(POLICY_FLAGS)) {
    const v = flags[flag];
    if (typeof v !== 'string') continue;
    if (key === 'maxAgeDays' && v === 'none') changes[key] = null;
    else if (/^\d+$/.test(v)) changes[key] = Number(v);
    else throw usage('invalid_policy_value', `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${v}: expected a whole number`);
  }
  return changes;
}

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
    .description('list domains by name with their state and mailbox counts, read and printed a page at a time')
    .option('--page-size <n>', `domains read per query (1-${MAX_LIST_PAGE})`, String(LIST_PAGE))
    .action(async (flags: { pageSize: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const limit = pageSizeOf(flags.pageSize);
      const out = pagedPrinter(opts.json === true, ['name', 'enabled', 'mailboxes', 'created_at', 'disabled_reason']);
      // Keyset pages, each printed before the next is read: a hosting provider's 100,000 domains
      // never sit in memory at once, and each page counts the mailboxes of its own domains only.
      await withContext(opts, async (ctx) => {
        let after: string | undefined;
        do {
          const page = await domains.listDomainPage(ctx, { after, limit });
          out.page(page.items.map((r) => (opts.json ? { ...r } : { ...r, mailboxes: r.mailbox_count })));
          after = page.next ?? undefined;
        } while (after !== undefined);
      });
      out.end();
    });

  domain
    .command('disable <domain>')
    .description('refuse the logins of every mailbox of the domain; their sessions are kicked on every node')
    .option('--reason <text>', 'reason given to Dovecot with the refusal (default: "domain <domain> disabled")')
    .action(async (name: string, flags: { reason?: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const r = await withContext(opts, (ctx) => domains.setDomainEnabled(ctx, cliActor(), name, false, flags.reason ?? null));
      if (opts.json) printJson({ ...r.domain, invalidated: r.invalidated });
      else printLine(`domain ${r.domain.name} disabled${r.invalidated ? `; ${r.invalidated} mailbox(es) flushed and kicked on every node` : ''}`);
    });

  domain
    .command('enable <domain>')
    .description('allow the logins of its mailboxes again (each as enabled or disabled as it was)')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const r = await withContext(opts, (ctx) => domains.setDomainEnabled(ctx, cliActor(), name, true));
      if (opts.json) printJson(r.domain);
      else printLine(`domain ${r.domain.name} enabled`);
    });

  domain
    .command('notices <domain> [state]')
    .description('turn notices by mail (password changed, expiry reminders) on or off for the domain\'s mailboxes, or show the setting; they also need [notices] enabled')
    .option('--language <en|nl|none>', 'default language of the domain\'s notices (none: en)')
    .action(async (name: string, state: string | undefined, flags: { language?: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      if (state !== undefined && state !== 'on' && state !== 'off') throw usage('invalid_request', `expected on or off, not "${state}"`);
      const on = state === undefined ? undefined : state === 'on';
      const language = flags.language === undefined ? undefined : flags.language === 'none' ? null : flags.language;
      const row = await withContext(opts, (ctx) => domains.setDomainNotices(ctx, cliActor(), name, on, language));
      if (opts.json) printJson(row);
      else printLine(`domain ${row.name}: notices ${row.notices ? 'on' : 'off'}, language ${row.notice_language ?? 'en (default)'}`);
    });

  domain
    .command('policy <domain>')
    .description('show or change the domain\'s password policy overrides (unset keys follow the global policy)')
    .option('--min-length <n>', 'minimum length in characters')
    .option('--min-classes <n>', 'character classes required (0-4)')
    .option('--min-score <n>', 'minimum strength score (0-4)')
    .option('--history <n>', 'previous passwords that may not be reused (0-24)')
    .option('--max-age-days <n|none>', 'password lifetime; "none" = never expires')
    .option('--reset', 'drop every override of this domain')
    .action(async (name: string, flags: Record<string, string | boolean | undefined>, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const row = await withContext(opts, async (ctx) => {
        const current = await domains.getDomain(ctx, name);
        const changes = policyChanges(flags);
        if (!flags.reset && Object.keys(changes).length === 0) return current;
        return domains.setDomainPolicy(ctx, cliActor(), name, flags.reset ? changes : { ...current.policy, ...changes });
      });
      if (opts.json) printJson({ name: row.name, policy: row.policy });
      else printLine(`${row.name}: ${Object.keys(row.policy).length ? JSON.stringify(row.policy) : 'global policy, no overrides'}`);
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
