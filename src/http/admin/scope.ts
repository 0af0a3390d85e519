import type { FastifyRequest } from 'fastify';
import { MailpassdError, notFound } from '../../core/errors.js';
import { normalizeAddress, normalizeDomain } from '../../core/address.js';
import type { Scope } from './authenticated.js';

/**
 * A domain-scoped token sees its own domain only. Anything else answers 404 —
 * the same as a domain that does not exist — so a token cannot probe.
 */
export function visibleDomain(req: FastifyRequest, input: string): string {
  const domain = normalizeDomain(input);
  if (req.scope.kind === 'domain' && req.scope.domain !== domain) throw notFound('domain_not_found', `domain ${domain} does not exist`);
  return domain;
}

export function visibleAddress(req: FastifyRequest, input: string): string {
  const { address, domain } = normalizeAddress(input);
  if (req.scope.kind === 'domain' && req.scope.domain !== domain) throw notFound('mailbox_not_found', `mailbox ${address} does not exist`);
  return address;
}

export function requireGlobalToken(req: FastifyRequest): void {
  if (req.scope.kind === 'domain') {
    throw new MailpassdError('forbidden', `this token is limited to domain ${req.scope.domain}`);
  }
}

/** The domain a listing is limited to, or null for all. */
export const domainOf = (scope: Scope): string | null => (scope.kind === 'domain' ? scope.domain : null);

/**
 * A node's doveadm error names hosts, paths and other domains' users, which a
 * domain-scoped token has no business seeing: only global tokens get it.
 */
export const seesNodeErrors = (scope: Scope): boolean => scope.kind === 'global';

/** Per-node outcomes of a rotation or kick, without the error text where the scope may not see it. */
export function nodesFor<N extends { error?: string }>(scope: Scope, nodes: N[]): N[] {
  if (seesNodeErrors(scope)) return nodes;
  return nodes.map((n) => {
    const shown = { ...n };
    delete shown.error;
    return shown;
  });
}
