import type { FastifyRequest } from 'fastify';
import { MailpassdError, notFound } from '../../errors.js';
import { normalizeAddress, normalizeDomain } from '../../core/address.js';

/**
 * A domain-scoped token sees its own domain only. Anything else answers 404 —
 * the same as a domain that does not exist — so a token cannot probe.
 */
export function visibleDomain(req: FastifyRequest, input: string): string {
  const domain = normalizeDomain(input);
  if (req.token?.domain && req.token.domain !== domain) throw notFound('domain_not_found', `domain ${domain} does not exist`);
  return domain;
}

export function visibleAddress(req: FastifyRequest, input: string): string {
  const { address, domain } = normalizeAddress(input);
  if (req.token?.domain && req.token.domain !== domain) throw notFound('mailbox_not_found', `mailbox ${address} does not exist`);
  return address;
}

export function requireGlobalToken(req: FastifyRequest): void {
  if (req.token?.domain) {
    throw new MailpassdError('forbidden', `this token is limited to domain ${req.token.domain}`, 'forbidden');
  }
}
