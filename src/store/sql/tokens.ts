import type { Queryable } from '../pool.js';
import type { TokenRow } from './rows.js';

export async function insertToken(db: Queryable, name: string, sha256: Buffer, domain: string | null): Promise<TokenRow | null> {
  const r = await db.query<TokenRow>({
    name: 'token-insert',
    text: `INSERT INTO admin_tokens (name, token_sha256, domain) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO NOTHING
           RETURNING id, name, domain, created_at, last_used_at, revoked_at`,
    values: [name, sha256, domain],
  });
  return r.rows[0] ?? null;
}

export async function listTokens(db: Queryable): Promise<TokenRow[]> {
  const r = await db.query<TokenRow>({
    name: 'token-list',
    text: 'SELECT id, name, domain, created_at, last_used_at, revoked_at FROM admin_tokens ORDER BY name',
  });
  return r.rows;
}

export async function revokeToken(db: Queryable, name: string): Promise<TokenRow | null> {
  const r = await db.query<TokenRow>({
    name: 'token-revoke',
    text: `UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE name = $1
           RETURNING id, name, domain, created_at, last_used_at, revoked_at`,
    values: [name],
  });
  return r.rows[0] ?? null;
}

/** Lookup by digest: the token itself is never stored. Touches last_used_at at most once a minute. */
export async function useToken(db: Queryable, sha256: Buffer): Promise<TokenRow | null> {
  const r = await db.query<TokenRow>({
    name: 'token-use',
    text: `UPDATE admin_tokens SET last_used_at = now()
           WHERE token_sha256 = $1 AND revoked_at IS NULL
             AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
           RETURNING id, name, domain, created_at, last_used_at, revoked_at`,
    values: [sha256],
  });
  if (r.rows[0]) return r.rows[0];
  const q = await db.query<TokenRow>({
    name: 'token-get',
    text: `SELECT id, name, domain, created_at, last_used_at, revoked_at FROM admin_tokens
           WHERE token_sha256 = $1 AND revoked_at IS NULL`,
    values: [sha256],
  });
  return q.rows[0] ?? null;
}
