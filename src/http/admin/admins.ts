import { Type, type Static } from '@sinclair/typebox';
import { grantAdmin, grantView, listAdmins, revokeAdmin, type Role } from '../../accounts/admins.js';
import { normalizeAddress } from '../../core/address.js';
import { notFound, usage } from '../../core/errors.js';
import type { RouteGroup } from './deps.js';
import { domainOf, requireGlobalToken, visibleDomain } from './scope.js';

const AdminGrant = Type.Object({
  address: Type.String(),
  role: Type.Union([Type.Literal('global'), Type.Literal('domain')]),
  domain: Type.Union([Type.String(), Type.Null()]),
  granted_at: Type.String({ format: 'date-time' }),
  granted_by: Type.String(),
});

const GrantBody = Type.Object(
  {
    address: Type.String({ minLength: 1, maxLength: 320 }),
    global: Type.Optional(Type.Literal(true)),
    domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
  },
  { additionalProperties: false },
);

const RevokeQuery = Type.Object(
  { domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })), global: Type.Optional(Type.Literal('true')) },
  { additionalProperties: false },
);

const errors = { 400: { $ref: 'Problem#' }, 401: { $ref: 'Problem#' }, 403: { $ref: 'Problem#' }, 404: { $ref: 'Problem#' }, 409: { $ref: 'Problem#' } };

function roleFrom(global: boolean | undefined, domain: string | undefined): Role | null {
  if (global === true && domain !== undefined) throw usage('invalid_admin_role', 'give either global or domain, not both');
  if (global === true) return { kind: 'global' };
  return domain === undefined ? null : { kind: 'domain', domain };
}

/**
 * Console administrators (roles granted to mailboxes). Granting and revoking
 * take a global token; a domain token may list its own domain's admins only
 * (a global admin is not listed to it).
 */
export const adminRoutes: RouteGroup = async (app, { ctx }) => {
  app.get<{ Querystring: { domain?: string } }>(
    '/v1/admins',
    {
      schema: {
        tags: ['admins'],
        querystring: Type.Object({ domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })) }, { additionalProperties: false }),
        response: { 200: Type.Array(AdminGrant), ...errors },
      },
    },
    async (req) => {
      const domain = req.query.domain !== undefined ? visibleDomain(req, req.query.domain) : domainOf(req.scope);
      return (await listAdmins(ctx, domain ?? undefined)).map(grantView);
    },
  );

  app.post<{ Body: Static<typeof GrantBody> }>(
    '/v1/admins',
    { schema: { tags: ['admins'], body: GrantBody, response: { 201: AdminGrant, ...errors } } },
    async (req, reply) => {
      requireGlobalToken(req);
      const role = roleFrom(req.body.global, req.body.domain);
      if (role === null) throw usage('invalid_admin_role', 'give global: true or a domain');
      return reply.code(201).send(grantView(await grantAdmin(ctx, req.actor, req.body.address, role)));
    },
  );

  // Without global or domain: every role of the mailbox.
  app.delete<{ Params: { address: string }; Querystring: Static<typeof RevokeQuery> }>(
    '/v1/admins/:address',
    {
      schema: {
        tags: ['admins'],
        params: Type.Object({ address: Type.String({ minLength: 1, maxLength: 320 }) }, { additionalProperties: false }),
        querystring: RevokeQuery,
        response: { 200: Type.Object({ address: Type.String(), removed: Type.Integer() }), ...errors },
      },
    },
    async (req) => {
      requireGlobalToken(req);
      const { address } = normalizeAddress(req.params.address);
      const role = roleFrom(req.query.global === 'true' ? true : undefined, req.query.domain) ?? 'all';
      const removed = await revokeAdmin(ctx, req.actor, address, role);
      if (removed === 0) throw notFound('admin_not_found', `${address} holds no such admin role`);
      return { address, removed };
    },
  );
};
