import { Type, type Static } from '@sinclair/typebox';
import * as domains from '../../accounts/domains.js';
import { listMailboxPage } from '../../accounts/mailboxes.js';
import type { PolicyOverrides } from '../../policy/settings.js';
import type { DomainRow } from '../../store/sql/rows.js';
import type { RouteGroup } from './deps.js';
import { Domain, DOMAIN_PAGE_DEFAULT, DomainPageQuery, DomainParam, DomainPatch, Mailbox, MAILBOX_PAGE_DEFAULT, MailboxPageQuery, PageHeaders, PolicyOverridesBody } from './schemas.js';
import { limitOf, setNextPage } from './paging.js';
import { domainOf, requireGlobalToken, visibleDomain } from './scope.js';

const view = (d: DomainRow) => ({ ...d, mailbox_count: d.mailbox_count ?? 0, created_at: d.created_at.toISOString() });
const errors = { 400: { $ref: 'Problem#' }, 401: { $ref: 'Problem#' }, 403: { $ref: 'Problem#' }, 404: { $ref: 'Problem#' }, 409: { $ref: 'Problem#' } };

export const domainRoutes: RouteGroup = async (app, { ctx }) => {
  // Paged like a domain's mailboxes; a default page of 1000 keeps the whole list in one body for most installations.
  app.get<{ Querystring: Static<typeof DomainPageQuery> }>(
    '/v1/domains',
    { schema: { tags: ['domains'], querystring: DomainPageQuery, response: { 200: Type.Array(Domain, { headers: PageHeaders }), ...errors } } },
    async (req, reply) => {
      const { cursor, q } = req.query;
      const limit = limitOf(req.query, DOMAIN_PAGE_DEFAULT);
      const only = domainOf(req.scope);
      const page = await domains.listDomainPage(ctx, { only: only === null ? null : [only], limit, ...(cursor !== undefined && { after: cursor }), ...(q !== undefined && { q }) });
      setNextPage(reply, '/v1/domains', page.next, limit, q);
      return page.items.map(view);
    },
  );

  app.post<{ Body: { name: string } }>(
    '/v1/domains',
    {
      schema: {
        tags: ['domains'],
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 253 }) }, { additionalProperties: false }),
        response: { 201: Domain, ...errors },
      },
    },
    async (req, reply) => {
      requireGlobalToken(req);
      return reply.code(201).send(view(await domains.addDomain(ctx, req.actor, req.body.name)));
    },
  );

  // Still a plain array for the callers that read one; the page's way on is in the headers
  // (Link rel="next", X-Next-Cursor, X-Total-Count), as GitHub's API does it.
  app.get<{ Params: { domain: string }; Querystring: Static<typeof MailboxPageQuery> }>(
    '/v1/domains/:domain/mailboxes',
    {
      schema: {
        tags: ['domains'],
        params: DomainParam,
        querystring: MailboxPageQuery,
        response: { 200: Type.Array(Mailbox, { headers: { ...PageHeaders, 'x-total-count': Type.String({ description: 'how many mailboxes match q (all of the domain\'s without it)' }) } }), ...errors },
      },
    },
    async (req, reply) => {
      const domain = visibleDomain(req, req.params.domain);
      const { cursor, q } = req.query;
      const limit = limitOf(req.query, MAILBOX_PAGE_DEFAULT);
      const page = await listMailboxPage(ctx, domain, { limit, ...(cursor !== undefined && { after: cursor }), ...(q !== undefined && { q }) });
      void reply.header('x-total-count', String(page.total));
      setNextPage(reply, `/v1/domains/${encodeURIComponent(domain)}/mailboxes`, page.next, limit, q);
      return page.items;
    },
  );

  app.delete<{ Params: { domain: string } }>(
    '/v1/domains/:domain',
    { schema: { tags: ['domains'], params: DomainParam, response: { ...errors } } },
    async (req, reply) => {
      // Scope first: another domain answers 404 like a missing one, never 403 (no probing).
      const domain = visibleDomain(req, req.params.domain);
      requireGlobalToken(req);
      await domains.removeDomain(ctx, req.actor, domain);
      return reply.code(204).send();
    },
  );

  app.patch<{ Params: { domain: string }; Body: Static<typeof DomainPatch> }>(
    '/v1/domains/:domain',
    {
      schema: {
        tags: ['domains'],
        params: DomainParam,
        body: DomainPatch,
        response: { 200: Type.Intersect([Domain, Type.Object({ invalidated: Type.Integer() })]), ...errors },
      },
    },
    async (req) => {
      const domain = visibleDomain(req, req.params.domain);
      // Global tokens only: a domain's own admin must not re-enable what a global admin disabled.
      requireGlobalToken(req);
      const b = req.body;
      let invalidated = 0;
      let row: DomainRow | null = null;
      if (b.enabled !== undefined) {
        const r = await domains.setDomainEnabled(ctx, req.actor, domain, b.enabled, b.reason ?? null);
        invalidated = r.invalidated;
        row = r.domain;
      }
      if (b.notices !== undefined || b.notice_language !== undefined) row = await domains.setDomainNotices(ctx, req.actor, domain, b.notices, b.notice_language);
      row ??= await domains.getDomain(ctx, domain);
      return { ...view(row), invalidated };
    },
  );

  app.put<{ Params: { domain: string }; Body: PolicyOverrides }>(
    '/v1/domains/:domain/policy',
    { schema: { tags: ['domains'], params: DomainParam, body: PolicyOverridesBody, response: { 200: Domain, ...errors } } },
    async (req) => {
      const domain = visibleDomain(req, req.params.domain);
      requireGlobalToken(req);
      return view(await domains.setDomainPolicy(ctx, req.actor, domain, req.body));
    },
  );
};
