import { Type, type Static } from '@sinclair/typebox';
import { usage } from '../../core/errors.js';
import * as mailboxes from '../../accounts/mailboxes.js';
import type { PasswordSource } from '../../accounts/password.js';
import { rotateAndWait, kickMailbox } from '../../rotation/service.js';
import type { RouteGroup } from './deps.js';
import { AddressParam, Mailbox, MailboxPatch, NewMailbox, RotateBody, RotateResult } from './schemas.js';
import { nodesFor, visibleAddress } from './scope.js';
import { MAX_WAIT_MS } from '../../rotation/wait.js';

const errors = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  404: { $ref: 'Problem#' },
  409: { $ref: 'Problem#' },
  422: { $ref: 'Problem#' },
  503: { $ref: 'Problem#' },
};

/** Exactly one of `password` and `generate: true`. */
export function passwordSource(body: { password?: string | undefined; generate?: boolean | undefined }): PasswordSource {
  if (body.generate && body.password !== undefined) throw usage('password_conflict', 'give either password or generate: true, not both');
  if (body.generate) return { kind: 'generate' };
  if (body.password === undefined) throw usage('password_missing', 'give password or generate: true');
  return { kind: 'given', value: body.password };
}

type Address = { Params: Static<typeof AddressParam> };

export const mailboxRoutes: RouteGroup = async (app, { ctx, deps }) => {
  app.post<{ Body: Static<typeof NewMailbox> }>(
    '/v1/mailboxes',
    { schema: { tags: ['mailboxes'], body: NewMailbox, response: { 201: Type.Intersect([Mailbox, Type.Object({ generated_password: Type.Optional(Type.String()) })]), ...errors } } },
    async (req, reply) => {
      const { mailbox, generated } = await mailboxes.createMailbox(ctx, req.actor, {
        address: visibleAddress(req, req.body.address),
        displayName: req.body.display_name ?? null,
        password: passwordSource(req.body),
        quotaBytes: req.body.quota_bytes ?? null,
        recoveryAddress: req.body.recovery_address ?? null,
        noticeLanguage: req.body.notice_language ?? null,
      });
      return reply.code(201).send(generated ? { ...mailbox, generated_password: generated } : mailbox);
    },
  );

  app.get<Address>('/v1/mailboxes/:address', { schema: { tags: ['mailboxes'], params: AddressParam, response: { 200: Mailbox, ...errors } } }, async (req) =>
    mailboxes.toView(await mailboxes.findMailbox(ctx, visibleAddress(req, req.params.address))),
  );

  app.patch<Address & { Body: Static<typeof MailboxPatch> }>(
    '/v1/mailboxes/:address',
    { schema: { tags: ['mailboxes'], params: AddressParam, body: MailboxPatch, response: { 200: Mailbox, ...errors } } },
    async (req) => {
      const b = req.body;
      return mailboxes.updateMailbox(ctx, req.actor, visibleAddress(req, req.params.address), {
        ...(b.enabled !== undefined && { enabled: b.enabled }),
        ...(b.disabled_reason !== undefined && { disabledReason: b.disabled_reason }),
        ...(b.display_name !== undefined && { displayName: b.display_name }),
        ...(b.quota_bytes !== undefined && { quotaBytes: b.quota_bytes }),
        ...(b.must_change !== undefined && { mustChange: b.must_change }),
        ...(b.recovery_address !== undefined && { recoveryAddress: b.recovery_address }),
        ...(b.notice_language !== undefined && { noticeLanguage: b.notice_language }),
      });
    },
  );

  app.delete<Address>('/v1/mailboxes/:address', { schema: { tags: ['mailboxes'], params: AddressParam, response: errors } }, async (req, reply) => {
    await mailboxes.deleteMailbox(ctx, req.actor, visibleAddress(req, req.params.address));
    return reply.code(204).send();
  });

  app.post<Address & { Body: Static<typeof RotateBody> }>(
    '/v1/mailboxes/:address/rotate',
    { schema: { tags: ['rotation'], params: AddressParam, body: RotateBody, response: { 200: RotateResult, ...errors } } },
    async (req) => {
      const result = await rotateAndWait(ctx, deps.metrics, req.actor, {
        address: visibleAddress(req, req.params.address),
        password: passwordSource(req.body),
        kick: req.body.kick ?? true,
        reason: 'rotate',
        waitMs: req.body.wait_ms ?? ctx.config.rotation.wait_ms,
        revokeAppPasswords: req.body.revoke_app_passwords ?? false,
      });
      return {
        address: result.address,
        credential_version: result.credentialVersion,
        invalidation_id: result.invalidationId,
        ...(result.generated ? { generated_password: result.generated } : {}),
        ...(req.body.revoke_app_passwords ? { revoked_app_passwords: result.revokedAppPasswords } : {}),
        complete: result.complete,
        nodes: nodesFor(req.scope, result.nodes),
      };
    },
  );

  app.post<Address & { Body: { wait_ms?: number } | undefined }>(
    '/v1/mailboxes/:address/kick',
    {
      // The body is optional (CONTRACT: a bare POST kicks), but a body-less request
      // reaches validation as `undefined`, which an object schema refuses: read it as {}.
      preValidation: async (req) => {
        req.body ??= {};
      },
      schema: {
        tags: ['rotation'],
        params: AddressParam,
        body: Type.Optional(Type.Object({ wait_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_MS })) }, { additionalProperties: false })),
        response: { 200: Type.Object({ address: Type.String(), invalidation_id: Type.String(), complete: Type.Boolean(), nodes: RotateResult.properties.nodes }), ...errors },
      },
    },
    async (req) => {
      const result = await kickMailbox(ctx, req.actor, visibleAddress(req, req.params.address), req.body?.wait_ms ?? ctx.config.rotation.wait_ms);
      return { ...result, nodes: nodesFor(req.scope, result.nodes) };
    },
  );
};
