import { Type, type Static } from '@sinclair/typebox';
import { usage } from '../../core/errors.js';
import { APP_PASSWORD_SCOPES } from '../../auth/app-password.js';
import { createAppPassword, listAppPasswords, requireAppPasswords } from '../../accounts/app-passwords.js';
import { revokeAppPassword } from '../../rotation/revoke-app-password.js';
import { MAX_WAIT_MS } from '../../rotation/wait.js';
import type { RouteGroup } from './deps.js';
import { AddressParam, DomainParam, NodeOutcome } from './schemas.js';
import { nodesFor, visibleAddress, visibleDomain } from './scope.js';

const errors = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  404: { $ref: 'Problem#' },
  409: { $ref: 'Problem#' },
  503: { $ref: 'Problem#' },
};

const Scope = Type.Unsafe<string>({ type: 'string', enum: [...APP_PASSWORD_SCOPES, 'submission', 'managesieve'] });
const AppPassword = Type.Object({
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_used_ip: Type.Union([Type.String(), Type.Null()]),
  last_used_service: Type.Union([Type.String(), Type.Null()]),
});
const NewAppPassword = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    scopes: Type.Optional(Type.Array(Scope, { minItems: 1, maxItems: 8, description: 'default: every mail service' })),
    expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500 })),
  },
  { additionalProperties: false },
);
const NameParam = Type.Object({ address: AddressParam.properties.address, name: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const Required = Type.Object({ required: Type.Boolean() }, { additionalProperties: false });
const KickedBy = Type.Unsafe<string>({ type: 'string', enum: ['app_password', 'mailbox'] });

/** App passwords of a mailbox (issue 13): create (the password is in this answer only), list, revoke; require them for mail clients. */
export const appPasswordRoutes: RouteGroup = async (app, { ctx }) => {
  type Address = { Params: Static<typeof AddressParam> };

  app.get<Address>(
    '/v1/mailboxes/:address/app-passwords',
    { schema: { tags: ['app-passwords'], params: AddressParam, response: { 200: Type.Object({ address: Type.String(), app_passwords: Type.Array(AppPassword) }), ...errors } } },
    async (req) => {
      const r = await listAppPasswords(ctx, visibleAddress(req, req.params.address));
      return { address: r.address, app_passwords: r.appPasswords };
    },
  );

  app.post<Address & { Body: Static<typeof NewAppPassword> }>(
    '/v1/mailboxes/:address/app-passwords',
    {
      schema: {
        tags: ['app-passwords'],
        params: AddressParam,
        body: NewAppPassword,
        response: { 201: Type.Object({ address: Type.String(), password: Type.String({ description: 'shown once' }), app_password: AppPassword }), ...errors },
      },
    },
    async (req, reply) => {
      const r = await createAppPassword(ctx, req.actor, {
        address: visibleAddress(req, req.params.address),
        name: req.body.name,
        scopes: req.body.scopes,
        lifetimeMs: req.body.expires_in_days === undefined ? null : req.body.expires_in_days * 86_400_000,
      });
      return reply.code(201).send({ address: r.address, password: r.password, app_password: r.appPassword });
    },
  );

  app.delete<{ Params: Static<typeof NameParam>; Querystring: { wait_ms?: string } }>(
    '/v1/mailboxes/:address/app-passwords/:name',
    {
      schema: {
        tags: ['app-passwords'],
        params: NameParam,
        // A query string is text (the API does not coerce types): digits, range-checked below.
        querystring: Type.Object({ wait_ms: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            address: Type.String(),
            name: Type.String(),
            invalidation_id: Type.String(),
            complete: Type.Boolean(),
            kicked: KickedBy,
            nodes: Type.Array(Type.Intersect([NodeOutcome, Type.Object({ kicked: Type.Unsafe<string>({ type: 'string', enum: ['app_password', 'mailbox', 'none'] }) })])),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const waitMs = req.query.wait_ms === undefined ? ctx.config.rotation.wait_ms : Number(req.query.wait_ms);
      if (waitMs > MAX_WAIT_MS) throw usage('invalid_wait', `wait_ms: at most ${MAX_WAIT_MS}`);
      const r = await revokeAppPassword(ctx, req.actor, visibleAddress(req, req.params.address), req.params.name, waitMs);
      return { ...r, nodes: nodesFor(req.scope, r.nodes) };
    },
  );

  app.put<Address & { Body: Static<typeof Required> }>(
    '/v1/mailboxes/:address/app-passwords-required',
    { schema: { tags: ['app-passwords'], params: AddressParam, body: Required, response: { 200: Type.Object({ address: Type.String(), required: Type.Boolean() }), ...errors } } },
    async (req) => {
      const address = visibleAddress(req, req.params.address);
      await requireAppPasswords(ctx, req.actor, { address }, req.body.required);
      return { address, required: req.body.required };
    },
  );

  app.put<{ Params: Static<typeof DomainParam>; Body: Static<typeof Required> }>(
    '/v1/domains/:domain/app-passwords-required',
    { schema: { tags: ['app-passwords'], params: DomainParam, body: Required, response: { 200: Type.Object({ domain: Type.String(), required: Type.Boolean() }), ...errors } } },
    async (req) => {
      const domain = visibleDomain(req, req.params.domain);
      await requireAppPasswords(ctx, req.actor, { domain }, req.body.required);
      return { domain, required: req.body.required };
    },
  );
};

