import type { Command } from 'commander';
import * as mailboxes from '../../accounts/mailboxes.js';
import type { PasswordSource } from '../../accounts/password.js';
import { usage } from '../../core/errors.js';
import { cliActor, withContext } from '../context.js';
import { LIST_PAGE, MAX_LIST_PAGE, pagedPrinter, pageSizeOf, printJson, printLine, readNewPassword, type GlobalOptions } from '../io.js';
import { importMailboxes } from '../../accounts/import.js';
import { createReadStream, statSync } from 'node:fs';
import { importProgress, importReportLines } from '../import-report.js';

export interface PasswordFlags {
  passwordStdin?: boolean;
  generate?: boolean;
}

/** `--generate`, `--password-stdin`, or a hidden prompt; never argv. */
export async function passwordFromFlags(flags: PasswordFlags): Promise<PasswordSource> {
  if (flags.generate && flags.passwordStdin) throw usage('password_conflict', 'use either --generate or --password-stdin');
  if (flags.generate) return { kind: 'generate' };
  return { kind: 'given', value: await readNewPassword(flags.passwordStdin === true) };
}

export function parseBytes(value: string): number {
  const m = /^(\d+)\s*([kmgt]i?b?)?$/i.exec(value.trim());
  if (!m) throw usage('invalid_quota', `quota "${value}" is not a size (e.g. 5G, 500M, 1048576)`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  const power = unit ? 'kmgt'.indexOf(unit) + 1 : 0;
  return Number(m[1]) * 1024 ** power;
}

export function registerMailbox(program: Command): void {
  const mailbox = program.command('mailbox').description('manage mailboxes and their credentials');

  mailbox
    .command('add <address>')
    .description('create a mailbox; the password comes from a prompt, --password-stdin or --generate')
    .option('--name <display name>', 'display name (also used by the password policy)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--generate', 'generate a strong password and print it once')
    .option('--quota <size>', 'quota, e.g. 5G')
    .option('--recovery-address <address>', 'another address that also gets the password-changed notices')
    .option('--language <en|nl>', 'language of its notices (default: the domain\'s, then en)')
    .action(async (address: string, flags: PasswordFlags & { name?: string; quota?: string; recoveryAddress?: string; language?: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const password = await passwordFromFlags(flags);
      const quotaBytes = flags.quota ? parseBytes(flags.quota) : null;
      const { mailbox: m, generated } = await withContext(opts, (ctx) =>
        mailboxes.createMailbox(ctx, cliActor(), {
          address,
          displayName: flags.name ?? null,
          password,
          quotaBytes,
          recoveryAddress: flags.recoveryAddress ?? null,
          noticeLanguage: flags.language ?? null,
        }),
      );
      if (opts.json) printJson(generated ? { ...m, generated_password: generated } : m);
      else {
        printLine(`mailbox ${m.address} created`);
        if (generated) printLine(`generated password (shown once): ${generated}`);
      }
    });

  mailbox
    .command('import')
    .description('import mailboxes with existing hashes: address<TAB>hash[<TAB>display name] per line (SHA512-CRYPT, BLF-CRYPT, SSHA512, ARGON2ID, …); all or nothing, streamed')
    .option('--file <path>', 'read from a file instead of standard input')
    .option('--create-domains', 'add missing domains')
    .option('--update', 'existing mailboxes whose hash or display name differ take the file\'s (a new hash is a new credential: sessions are kicked); without it such lines are refused')
    .option('--dry-run', 'report what would change (new, changed, unchanged, refused lines) and write nothing')
    .action(async (flags: { file?: string; createDomains?: boolean; update?: boolean; dryRun?: boolean }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const input = flags.file ? createReadStream(flags.file) : process.stdin;
      const total = flags.file ? statSync(flags.file).size : null;
      const progress = importProgress(total);
      const r = await withContext(opts, (ctx) =>
        importMailboxes(ctx, cliActor(), input, { createDomains: flags.createDomains === true, update: flags.update === true, dryRun: flags.dryRun === true, onProgress: progress.update, onStaged: progress.staged }),
      ).finally(progress.stop);
      if (opts.json) printJson(r);
      else for (const line of importReportLines(r)) printLine(line);
    });

  mailbox
    .command('list')
    .description('list mailboxes, by domain then address, read and printed a page at a time')
    .option('--domain <domain>', 'only this domain')
    .option('--page-size <n>', `mailboxes read per query (1-${MAX_LIST_PAGE})`, String(LIST_PAGE))
    .action(async (flags: { domain?: string; pageSize: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const limit = pageSizeOf(flags.pageSize);
      const columns = ['address', 'display_name', 'enabled', 'credential_version', 'password_changed_at', 'password_expires_at'];
      const out = pagedPrinter(opts.json === true, columns);
      const domain = flags.domain;
      // A domain may hold many thousands, the whole table a million: keyset pages, each printed
      // before the next is read, so memory stays that of one page whatever the size.
      await withContext(opts, async (ctx) => {
        if (domain !== undefined) {
          let after: string | undefined;
          do {
            const page = await mailboxes.listMailboxPage(ctx, domain, { after, limit });
            out.page(page.items as unknown as Array<Record<string, unknown>>);
            after = page.next ?? undefined;
          } while (after !== undefined);
          return;
        }
        let after: mailboxes.MailboxCursor | undefined;
        do {
          const page = await mailboxes.listAllMailboxPage(ctx, { after, limit });
          out.page(page.items as unknown as Array<Record<string, unknown>>);
          after = page.next ?? undefined;
        } while (after !== undefined);
      });
      out.end();
    });

  mailbox
    .command('show <address>')
    .description('show one mailbox (never its hash)')
    .action(async (address: string, _f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const m = await withContext(opts, async (ctx) => mailboxes.toView(await mailboxes.findMailbox(ctx, address)));
      if (opts.json) printJson(m);
      else for (const [k, v] of Object.entries(m)) printLine(`${k.padEnd(20)} ${v ?? '-'}`);
    });

  mailbox
    .command('patch <address>')
    .description('change a mailbox\'s details (not its password: see rotate)')
    .option('--name <display name>', 'display name ("" removes it)')
    .option('--quota <size|none>', 'quota, e.g. 5G; none removes it')
    .option('--recovery-address <address|none>', 'another address that also gets the password-changed notices; none removes it')
    .option('--language <en|nl|none>', 'language of its notices; none follows the domain')
    .action(async (address: string, flags: { name?: string; quota?: string; recoveryAddress?: string; language?: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const none = (v: string) => (v === 'none' ? null : v);
      const changes: mailboxes.MailboxChanges = {
        ...(flags.name !== undefined && { displayName: flags.name }),
        ...(flags.quota !== undefined && { quotaBytes: flags.quota === 'none' ? null : parseBytes(flags.quota) }),
        ...(flags.recoveryAddress !== undefined && { recoveryAddress: none(flags.recoveryAddress) }),
        ...(flags.language !== undefined && { noticeLanguage: none(flags.language) }),
      };
      if (Object.keys(changes).length === 0) throw usage('invalid_request', 'nothing to change: give --name, --quota, --recovery-address or --language');
      const m = await withContext(opts, (ctx) => mailboxes.updateMailbox(ctx, cliActor(), address, changes));
      if (opts.json) printJson(m);
      else printLine(`mailbox ${m.address} updated`);
    });

  mailbox
    .command('disable <address>')
    .description('refuse logins (the password stays); sessions are kicked on every node')
    .option('--reason <text>', 'reason given to Dovecot with the refusal')
    .action(async (address: string, flags: { reason?: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const m = await withContext(opts, (ctx) => mailboxes.updateMailbox(ctx, cliActor(), address, { enabled: false, disabledReason: flags.reason ?? null }));
      if (opts.json) printJson(m);
      else printLine(`mailbox ${m.address} disabled`);
    });

  mailbox
    .command('enable <address>')
    .description('allow logins again')
    .action(async (address: string, _f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const m = await withContext(opts, (ctx) => mailboxes.updateMailbox(ctx, cliActor(), address, { enabled: true }));
      if (opts.json) printJson(m);
      else printLine(`mailbox ${m.address} enabled`);
    });

  mailbox
    .command('must-change <address>')
    .description('refuse logins with "password expired" until the password is changed (self-service still takes it as the current password)')
    .option('--clear', 'withdraw the demand instead')
    .action(async (address: string, flags: { clear?: boolean }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const m = await withContext(opts, (ctx) => mailboxes.updateMailbox(ctx, cliActor(), address, { mustChange: flags.clear !== true }));
      if (opts.json) printJson(m);
      else printLine(m.must_change ? `mailbox ${m.address} must change its password before the next login` : `mailbox ${m.address} need not change its password`);
    });

  mailbox
    .command('delete <address>')
    .description('delete a mailbox and its password history (mail data is not touched)')
    .action(async (address: string, _f: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      await withContext(opts, (ctx) => mailboxes.deleteMailbox(ctx, cliActor(), address));
      if (opts.json) printJson({ deleted: address });
      else printLine(`mailbox ${address} deleted`);
    });
}
