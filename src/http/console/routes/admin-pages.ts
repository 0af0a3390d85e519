import { Type, type Static } from '@sinclair/typebox';
import { MailpassdError } from '../../../core/errors.js';
import { reachableDomains } from '../../../accounts/admins.js';
import { addDomain, getDomain, listDomainSummaryPage, setDomainPolicy } from '../../../accounts/domains.js';
import { listMailboxPage } from '../../../accounts/mailboxes.js';
import { listAuditPage } from '../../../accounts/audit.js';
import { configuredPolicy, parsePolicyOverrides, type PolicyOverrides } from '../../../policy/settings.js';
import { listNodes, nodeLags } from '../../../store/sql/nodes.js';
import type { RouteGroup } from '../../admin/deps.js';
import { actorOf, adminOf, ConsoleStop, frameOf, isGlobal, reachDomain, redirect, sendPage } from '../guard.js';
import { domainPolicy, rulesOf } from '../policy-view.js';
import { noticeText, withNotice } from '../notices.js';
import { DomainsPage } from '../views/domains.js';
import { DomainPage } from '../views/domain.js';
import { PolicyPage } from '../views/policy.js';
import { ClusterPage } from '../views/cluster.js';
import { AuditPage } from '../views/audit.js';
import { domainPath } from '../views/format.js';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../../../core/context.js';

export const PAGE_SIZE = 50;
const Notice = { notice: Type.Optional(Type.String({ maxLength: 64 })), subject: Type.Optional(Type.String({ maxLength: 400 })) };
/** A paged table's place (views/pager.tsx): search, where the page starts, the pages before it. */
const PageQuery = Type.Object({ q: Type.Optional(Type.String({ maxLength: 200 })), after: Type.Optional(Type.String({ maxLength: 400 })), trail: Type.Optional(Type.String({ maxLength: 20_000 })), ...Notice });
const AuditQuery = Type.Object({ target: Type.Optional(Type.String({ maxLength: 400 })), before: Type.Optional(Type.String({ maxLength: 40 })) });
const AddDomainBody = Type.Object({ _csrf: Type.String(), name: Type.String({ maxLength: 253 }) }, { additionalProperties: false });
const POLICY_FIELDS = ['minLength', 'maxAgeDays', 'historyCount', 'minScore'] as const;
const PolicyBody = Type.Object({ _csrf: Type.String(), ...Object.fromEntries(POLICY_FIELDS.map((k) => [k, Type.Optional(Type.String({ maxLength: 10 }))])) }, { additionalProperties: false });

/** The admin's pages: domains, one domain's mailboxes, its policy, the cluster, the audit log. */
export const adminPages: RouteGroup = async (app, { ctx }) => {
  app.get<{ Querystring: Static<typeof PageQuery> }>('/domains', { schema: { querystring: PageQuery } }, async (req, reply) => {
    const session = adminOf(req);
    const { q, after, trail } = pageOf(req.query);
    const page = await listDomainSummaryPage(ctx, { only: reachableDomains(session.roles), ...(q && { q }), ...(after && { after }), limit: PAGE_SIZE });
    const frame = frameOf(req, noticeText(req.t, req.query.notice, req.query.subject));
    return sendPage(reply, DomainsPage({ frame, view: { q, after, trail, items: page.items, next: page.next }, csrf: session.csrfToken, canAdd: isGlobal(session) }));
  });

  app.post<{ Body: Static<typeof AddDomainBody> }>('/domains', { schema: { body: AddDomainBody } }, async (req, reply) => {
    const session = adminOf(req);
    if (!isGlobal(session)) throw new ConsoleStop('forbidden');
    const row = await addDomain(ctx, actorOf(req), req.body.name);
    // The list searched for it: among thousands it could be on any page.
    return redirect(reply, withNotice(`/domains?${new URLSearchParams({ q: row.name })}`, 'domain_added', row.name));
  });

  app.get<{ Params: { d: string }; Querystring: Static<typeof PageQuery> }>('/domains/:d', { schema: { querystring: PageQuery } }, async (req, reply) => {
    const { domain } = reachDomain(req, req.params.d);
    return sendPage(reply, await renderDomain(ctx, req, domain, req.query, null), 200);
  });

  app.get<{ Params: { d: string } }>('/domains/:d/policy', async (req, reply) => {
    const { session, domain } = reachDomain(req, req.params.d);
    const q = req.query as { notice?: string };
    return sendPage(reply, await renderPolicy(ctx, req, domain, isGlobal(session), null, q.notice === 'policy_saved' ? req.t.policySaved : null));
  });

  app.post<{ Params: { d: string }; Body: Static<typeof PolicyBody> }>('/domains/:d/policy', { schema: { body: PolicyBody } }, async (req, reply) => {
    const { session, domain } = reachDomain(req, req.params.d);
    if (!isGlobal(session)) throw new ConsoleStop('forbidden');
    const row = await getDomain(ctx, domain);
    // The fields not on the form (minClasses) keep their override.
    const overrides: Record<string, unknown> = { ...parsePolicyOverrides(row.policy) };
    const body = req.body as Record<string, string | undefined>;
    for (const key of POLICY_FIELDS) {
      const raw = body[key]?.trim() ?? '';
      if (raw === '') delete overrides[key];
      else overrides[key] = /^-?\d+$/.test(raw) ? Number(raw) : raw;
    }
    try {
      await setDomainPolicy(ctx, actorOf(req), domain, overrides);
    } catch (err) {
      if (err instanceof MailpassdError && (err.kind === 'refused' || err.kind === 'usage')) {
        return sendPage(reply, await renderPolicy(ctx, req, domain, true, err.message, null), 422);
      }
      throw err;
    }
    return redirect(reply, withNotice(domainPath(domain, '/policy'), 'policy_saved'));
  });

  app.get('/cluster', async (req, reply) => {
    adminOf(req);
    const [nodes, lags] = await Promise.all([listNodes(ctx.pool, ctx.config.rotation.stale_after_ms), nodeLags(ctx.pool)]);
    return sendPage(reply, ClusterPage({ frame: frameOf(req), nodes, lags: new Map(lags.map((l) => [l.node_id, l.lag])) }));
  });

  app.get<{ Querystring: Static<typeof AuditQuery> }>('/audit', { schema: { querystring: AuditQuery } }, async (req, reply) => {
    const session = adminOf(req);
    const target = req.query.target?.trim() ?? '';
    const page = await listAuditPage(ctx, {
      ...(target && { target: target.toLowerCase() }),
      domains: reachableDomains(session.roles),
      ...(req.query.before && { before: req.query.before }),
      limit: PAGE_SIZE,
    });
    return sendPage(reply, AuditPage({ frame: frameOf(req), target, items: page.items, next: page.next }));
  });
};

export async function renderDomain(ctx: Context, req: FastifyRequest, domain: string, query: Static<typeof PageQuery>, error: string | null) {
  const session = adminOf(req);
  const policy = await domainPolicy(ctx, domain); // 404 for a domain that does not exist
  const { q, after, trail } = pageOf(query);
  const page = await listMailboxPage(ctx, domain, { ...(q && { q }), ...(after && { after }), limit: PAGE_SIZE });
  return DomainPage({
    frame: frameOf(req, noticeText(req.t, query.notice, query.subject)),
    csrf: session.csrfToken,
    view: { domain, rules: rulesOf(policy, req.lang), q, items: page.items, total: page.total, next: page.next, trail, after, error },
  });
}

/** A paged table's place from its query string (views/pager.tsx): the search, where the page starts, the trail back. */
function pageOf(query: Static<typeof PageQuery>): { q: string; after: string; trail: string[] } {
  const q = query.q?.trim() ?? '';
  const after = query.after ?? '';
  const trail = query.trail === undefined || query.trail === '' ? (after ? [''] : []) : query.trail.split(',');
  return { q, after, trail };
}

async function renderPolicy(ctx: Context, req: FastifyRequest, domain: string, editable: boolean, error: string | null, notice: string | null) {
  const session = adminOf(req);
  const row = await getDomain(ctx, domain);
  const overrides: PolicyOverrides = parsePolicyOverrides(row.policy);
  return PolicyPage({
    frame: frameOf(req, notice),
    csrf: session.csrfToken,
    view: { domain, effective: await domainPolicy(ctx, domain), global: configuredPolicy(ctx.config.policy), overrides, editable, error },
  });
}
