import { MAX_PASSWORD_BYTES } from '../../../core/policy-limits.js';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../../../core/context.js';
import { MailpassdError } from '../../../core/errors.js';
import { normalizeAddress } from '../../../core/address.js';
import { createMailbox, deleteMailbox, findMailbox, updateMailbox } from '../../../accounts/mailboxes.js';
import { resetTotp } from '../../../accounts/totp.js';
import { kickMailbox, rotateAndWait } from '../../../rotation/service.js';
import type { RouteGroup } from '../../admin/deps.js';
import { actorOf, ConsoleStop, frameOf, reachDomain, redirect, sendPage } from '../guard.js';
import { refusalTexts } from '../policy-view.js';
import { withNotice } from '../notices.js';
import { domainPath, mailboxPath } from '../views/format.js';
import { TotpResetConfirmPage } from '../views/totp.js';
import { renderDomain } from './admin-pages.js';

type MailboxParams = { d: string; a: string };
const CsrfOnly = Type.Object({ _csrf: Type.String() }, { additionalProperties: false });
const AddBody = Type.Object({ _csrf: Type.String(), address: Type.String({ maxLength: 320 }), name: Type.Optional(Type.String({ maxLength: 200 })), password: Type.String({ maxLength: MAX_PASSWORD_BYTES }) }, { additionalProperties: false });
const PasswordBody = Type.Object({ _csrf: Type.String(), password: Type.String({ maxLength: MAX_PASSWORD_BYTES }) }, { additionalProperties: false });
const DeleteBody = Type.Object({ _csrf: Type.String(), confirm: Type.String({ maxLength: 320 }) }, { additionalProperties: false });

/**
 * The mailbox in a URL, only if it is in that domain and the session may reach
 * the domain; any other case is the same 404 (a domain admin cannot probe
 * which addresses exist elsewhere).
 */
export async function reachMailbox(ctx: Context, req: FastifyRequest, d: string, a: string) {
  const { session, domain } = reachDomain(req, d);
  let address: string;
  try {
    address = normalizeAddress(a).address;
  } catch {
    throw new ConsoleStop('not_found');
  }
  const row = await findMailbox(ctx, address).catch((err: unknown) => {
    if (err instanceof MailpassdError && err.kind === 'not_found') throw new ConsoleStop('not_found');
    throw err;
  });
  if (row.domain !== domain) throw new ConsoleStop('not_found');
  return { session, domain, row };
}

/** The actions of a row's gear menu and the add-mailbox dialog, as forms that post and redirect (they work without JavaScript). */
export const mailboxActions: RouteGroup = async (app, { ctx, deps }) => {
  app.post<{ Params: { d: string }; Body: Static<typeof AddBody> }>('/domains/:d/mailboxes', { schema: { body: AddBody } }, async (req, reply) => {
    const { domain } = reachDomain(req, req.params.d);
    const raw = req.body.address.trim();
    const full = raw.includes('@') ? raw : `${raw}@${domain}`;
    let address: string;
    try {
      address = normalizeAddress(full).address;
    } catch (err) {
      return sendPage(reply, await renderDomain(ctx, req, domain, {}, (err as Error).message), 422);
    }
    // A mailbox of another domain cannot be created from this one's page.
    if (address.slice(address.lastIndexOf('@') + 1) !== domain) throw new ConsoleStop('not_found');
    try {
      await createMailbox(ctx, actorOf(req), { address, displayName: req.body.name?.trim() || null, password: { kind: 'given', value: req.body.password } });
    } catch (err) {
      if (err instanceof MailpassdError && (err.kind === 'refused' || err.kind === 'conflict' || err.kind === 'usage')) {
        const texts = err.kind === 'refused' ? refusalTexts(err.details, req.lang) : [];
        const text = texts.length > 0 ? `${req.t.refusedBecause} ${texts.join(' ')}` : err.message;
        return sendPage(reply, await renderDomain(ctx, req, domain, {}, text), err.statusCode);
      }
      throw err;
    }
    return redirect(reply, withNotice(domainPath(domain), 'mailbox_added', address));
  });

  /** Without JavaScript: the change, waited for, then back to the list. With it, console.js uses the streaming endpoint instead. */
  app.post<{ Params: MailboxParams; Body: Static<typeof PasswordBody> }>('/domains/:d/mailboxes/:a/password', { schema: { body: PasswordBody } }, async (req, reply) => {
    const { domain, row } = await reachMailbox(ctx, req, req.params.d, req.params.a);
    try {
      await rotateAndWait(ctx, deps.metrics, actorOf(req), { address: row.address, password: { kind: 'given', value: req.body.password }, kick: true, reason: 'rotate', waitMs: ctx.config.rotation.wait_ms });
    } catch (err) {
      if (err instanceof MailpassdError && err.kind === 'refused') {
        return sendPage(reply, await renderDomain(ctx, req, domain, {}, `${req.t.refusedBecause} ${refusalTexts(err.details, req.lang).join(' ')}`), 422);
      }
      throw err;
    }
    return redirect(reply, withNotice(domainPath(domain), 'password_changed', row.address));
  });

  for (const [action, enabled] of [['disable', false], ['enable', true]] as const) {
    app.post<{ Params: MailboxParams }>(`/domains/:d/mailboxes/:a/${action}`, { schema: { body: CsrfOnly } }, async (req, reply) => {
      const { domain, row } = await reachMailbox(ctx, req, req.params.d, req.params.a);
      await updateMailbox(ctx, actorOf(req), row.address, enabled ? { enabled } : { enabled, disabledReason: 'console' });
      return redirect(reply, withNotice(domainPath(domain), enabled ? 'mailbox_enabled' : 'mailbox_disabled', row.address));
    });
  }

  app.post<{ Params: MailboxParams }>('/domains/:d/mailboxes/:a/kick', { schema: { body: CsrfOnly } }, async (req, reply) => {
    const { domain, row } = await reachMailbox(ctx, req, req.params.d, req.params.a);
    await kickMailbox(ctx, actorOf(req), row.address, Math.min(ctx.config.rotation.wait_ms, 5_000));
    return redirect(reply, withNotice(domainPath(domain), 'sessions_closed', row.address));
  });

  /** For a user who lost the phone and the recovery codes (accounts/totp.ts resetTotp): asked first, then done; a mailbox without TOTP says so. */
  app.get<{ Params: MailboxParams }>('/domains/:d/mailboxes/:a/totp-reset', async (req, reply) => {
    const { session, domain, row } = await reachMailbox(ctx, req, req.params.d, req.params.a);
    const action = mailboxPath(domain, row.address, 'totp-reset');
    return sendPage(reply, TotpResetConfirmPage({ frame: frameOf(req), csrf: session.csrfToken, address: row.address, action, back: domainPath(domain) }));
  });

  app.post<{ Params: MailboxParams }>('/domains/:d/mailboxes/:a/totp-reset', { schema: { body: CsrfOnly } }, async (req, reply) => {
    const { domain, row } = await reachMailbox(ctx, req, req.params.d, req.params.a);
    try {
      await resetTotp(ctx, actorOf(req), row.address);
    } catch (err) {
      if (err instanceof MailpassdError && err.code === 'totp_not_enrolled') return redirect(reply, withNotice(domainPath(domain), 'totp_none', row.address));
      throw err;
    }
    return redirect(reply, withNotice(domainPath(domain), 'totp_reset', row.address));
  });

  app.post<{ Params: MailboxParams; Body: Static<typeof DeleteBody> }>('/domains/:d/mailboxes/:a/delete', { schema: { body: DeleteBody } }, async (req, reply) => {
    const { domain, row } = await reachMailbox(ctx, req, req.params.d, req.params.a);
    if (req.body.confirm.trim().toLowerCase() !== row.address) {
      return sendPage(reply, await renderDomain(ctx, req, domain, {}, req.t.addressMismatch), 422);
    }
    await deleteMailbox(ctx, actorOf(req), row.address);
    return redirect(reply, withNotice(domainPath(domain), 'mailbox_deleted', row.address));
  });
};
