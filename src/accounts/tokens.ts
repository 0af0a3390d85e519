import { createHash, randomBytes } from 'node:crypto';
import type { Actor, Context } from '../core/context.js';
import { conflict, notFound, usage } from '../core/errors.js';
import { withTransaction } from '../store/pool.js';
import { appendAudit } from '../store/sql/audit.js';
import { getDomain } from '../store/sql/domains.js';
import * as sql from '../store/sql/tokens.js';
import type { TokenRow } from '../store/sql/rows.js';
import { normalizeDomain } from '../core/address.js';

/** Tokens are `mpd_` + 32 random bytes; only their SHA-256 is stored. */
const PREFIX = 'mpd_';
export const tokenDigest = (token: string) => createHash('sha256').update(token).digest();

export async function createToken(ctx: Context, actor: Actor, name: string, domainInput: string | null): Promise<{ token: string; row: TokenRow }> {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw usage('invalid_token_name', 'token name: 1-64 of A-Z a-z 0-9 . _ -');
  const domain = domainInput === null ? null : normalizeDomain(domainInput);
  const token = PREFIX + randomBytes(32).toString('base64url');
  const row = await withTransaction(ctx.pool, async (tx) => {
    if (domain !== null && !(await getDomain(tx, domain))) throw notFound('domain_not_found', `domain ${domain} does not exist`);
    const inserted = await sql.insertToken(tx, name, tokenDigest(token), domain);
    if (!inserted) throw conflict('token_exists', `a token named ${name} already exists`);
    await appendAudit(tx, { ...actor, action: 'token.create', target: name, details: { domain } });
    return inserted;
  });
  return { token, row };
}

export async function listTokens(ctx: Context): Promise<TokenRow[]> {
  return sql.listTokens(ctx.pool);
}

export async function revokeToken(ctx: Context, actor: Actor, name: string): Promise<TokenRow> {
  return withTransaction(ctx.pool, async (tx) => {
    const row = await sql.revokeToken(tx, name);
    if (!row) throw notFound('token_not_found', `no token named ${name}`);
    await appendAudit(tx, { ...actor, action: 'token.revoke', target: name });
    return row;
  });
}

/** The bearer token's row, or null for missing, malformed, unknown or revoked — callers answer all four alike. */
export async function authenticateToken(ctx: Context, header: string | undefined): Promise<TokenRow | null> {
  const token = /^Bearer (mpd_[A-Za-z0-9_-]{43})$/.exec(header ?? '')?.[1];
  if (!token) return null;
  return sql.useToken(ctx.pool, tokenDigest(token));
}
