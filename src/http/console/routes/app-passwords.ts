import { Type, type Static } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MailpassdError } from '../../../core/errors.js';
import { createAppPassword } from '../../../accounts/app-passwords.js';
import { revokeAppPassword } from '../../../rotation/revoke-app-password.js';
import type { RouteGroup } from '../../admin/deps.js';
import { actorOf, frameOf, sendPage, sessionOf } from '../guard.js';
import { nodeLine } from '../progress.js';
import { renderMe } from './me.js';
import { MailboxAppPasswordsPage, RevokeConfirmPage, RevokedPage } from '../views/app-passwords.js';
import { listAppPasswords } from '../../../accounts/app-passwords.js';
import { mailboxPath } from '../views/format.js';
import { reachMailbox } from './mailbox-actions.js';

const CreateBody = Type.Object(
  {
    _csrf: Type.String(),
    name: Type.String({ maxLength: 200 }),
    services: Type.Optional(Type.Union([Type.String({ maxLength: 16 }), Type.Array(Type.String({ maxLength: 16 }), { maxItems: 8 })])),
    expiry_days: Type.Optional(Type.String({ pattern: '^[0-9]{0,4}$' })),
  },
  { additionalProperties: false },
);
const RevokeBody = Type.Object({ _csrf: Type.String(), name: Type.String({ maxLength: 200 }) }, { additionalProperties: false });
const DAY_MS = 86_400_000;

/**
 * The owner's app passwords on /me, through the same services as the CLI and
 * the API: creation shows the password once (rendered, never redirected with
 * it), revocation is a rotation confirmed per node.
 */
export const appPasswordRoutes: RouteGroup = async (app, { ctx }) => {
  app.post<{ Body: Static<typeof CreateBody> }>('/me/app-passwords', { schema: { body: CreateBody } }, async (req, reply) => {
    const session = sessionOf(req);
    const { name, services, expiry_days } = req.body;
    const days = expiry_days ? Number(expiry_days) : null;
    try {
      const r = await createAppPassword(ctx, actorOf(req), {
        address: session.address,
        name,
        // No box ticked: the service refuses it (an app password opens at least one service), as an unknown one.
        scopes: services ?? [],
        lifetimeMs: days === null || days === 0 ? null : days * DAY_MS,
      });
      return sendPage(reply, await renderMe(ctx, req, { created: { name: r.appPassword.name, password: r.password } }));
    } catch (err) {
      if (!(err instanceof MailpassdError) || err.kind === 'internal') throw err;
      return sendPage(reply, await renderMe(ctx, req, { appPasswordError: `${req.t.appPasswordRefused} ${err.message}` }), err.statusCode);
    }
  });

  app.get<{ Querystring: { name?: string } }>('/me/app-passwords/revoke', async (req, reply) => {
    const session = sessionOf(req);
    return sendPage(reply, RevokeConfirmPage({ frame: frameOf(req), csrf: session.csrfToken, name: String(req.query.name ?? '').slice(0, 200) }));
  });

  app.post<{ Body: Static<typeof RevokeBody> }>('/me/app-passwords/revoke', { schema: { body: RevokeBody } }, async (req, reply) => {
    return revokeAndShow(req, reply, sessionOf(req).address, req.body.name, '/me');
  });

  // An administrator of the mailbox's domain: the list and Revoke (404 for a mailbox out of reach, as everywhere).
  type P = { d: string; a: string };
  app.get<{ Params: P }>('/domains/:d/mailboxes/:a/app-passwords', async (req, reply) => {
    const { domain, row } = await reachMailbox(ctx, req, req.params.d, req.params.a);
    const { appPasswords } = await listAppPasswords(ctx, row.address);
    return sendPage(reply, MailboxAppPasswordsPage({ frame: frameOf(req), address: row.address, items: appPasswords, base: mailboxPath(domain, row.address, 'app-passwords') }));
  });

  app.get<{ Params: P; Querystring: { name?: string } }>('/domains/:d/mailboxes/:a/app-passwords/revoke', async (req, reply) => {
    const { session, domain, row } = await reachMailbox(ctx, req, req.params.d, req.params.a);
    const base = mailboxPath(domain, row.address, 'app-passwords');
    return sendPage(reply, RevokeConfirmPage({ frame: frameOf(req), csrf: session.csrfToken, name: String(req.query.name ?? '').slice(0, 200), action: `${base}/revoke`, back: base }));
  });

  app.post<{ Params: P; Body: Static<typeof RevokeBody> }>('/domains/:d/mailboxes/:a/app-passwords/revoke', { schema: { body: RevokeBody } }, async (req, reply) => {
    const { domain, row } = await reachMailbox(ctx, req, req.params.d, req.params.a);
    return revokeAndShow(req, reply, row.address, req.body.name, mailboxPath(domain, row.address, 'app-passwords'));
  });

  async function revokeAndShow(req: FastifyRequest, reply: FastifyReply, address: string, name: string, back: string) {
    // The confirmation page is the point of the action: wait as long as the admin API does (returns as soon as all confirm).
    const waitMs = ctx.config.rotation.wait_ms;
    const r = await revokeAppPassword(ctx, actorOf(req), address, name, waitMs);
    const lines = r.nodes.map((n) => nodeLine(req.t, n, true, waitMs));
    const applied = lines.filter((l) => l.state === 'applied').length;
    return sendPage(reply, RevokedPage({ frame: frameOf(req), lines, summary: req.t.revokedOn(r.name, applied, lines.length), back }));
  }
};
