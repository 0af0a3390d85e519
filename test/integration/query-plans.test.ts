import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeContext, type TestContext } from '../helpers/context.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { getAuthRow, getAuthRows, listAllMailboxPage, listMailboxPage } from '../../src/store/sql/mailboxes.js';
import { listDomainPage } from '../../src/store/sql/domains.js';
import { recentHashes } from '../../src/store/sql/history.js';
import { invalidationsAfter } from '../../src/store/sql/invalidations.js';
import { useToken } from '../../src/store/sql/tokens.js';
import { listAudit, listAuditPage } from '../../src/store/sql/audit.js';
import { pruneAuditBatch, pruneInvalidationsBatch } from '../../src/store/sql/retention.js';
import { sweepExpiredBatch } from '../../src/store/sql/app-passwords.js';
import type { Queryable } from '../../src/store/pool.js';

/**
 * The hot statements use their indexes on a table of 50k mailboxes over 1,000
 * domains, 100,000 empty domains besides (with the other tables filled in
 * proportion), after VACUUM ANALYZE: asserted
 * on EXPLAIN (FORMAT JSON) of the very statement text the code sends, for the
 * custom plan (the parameters' values known) and for the generic plan, which is
 * what a long-running daemon's prepared statement settles on after five runs.
 * A sequential scan of one of these tables on a login would be a full read of a
 * million rows at scale.
 */
const MAILBOXES = 50_000;
const DOMAINS = 1000;
const EMPTY_DOMAINS = 100_000;
let db: { url: string; drop(): Promise<void> };
let ctx: TestContext;
let client: pg.Client;

interface Sent {
  name?: string;
  text: string;
  values?: unknown[];
}

/** The statements a store function sends, with their values; answered with no rows (only the text is used). */
async function statementsOf(call: (db: Queryable) => Promise<unknown>): Promise<Sent[]> {
  const sent: Sent[] = [];
  const recorder = { query: async (q: Sent) => (sent.push(q), { rows: [], rowCount: 0 }) } as unknown as Queryable;
  await call(recorder).catch(() => undefined);
  return sent;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

/** Whether the server can EXPLAIN a statement's generic plan (PostgreSQL 16+). */
let genericPlans = true;

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

async function plan(q: Sent, generic: boolean): Promise<PlanNode[]> {
  const r = generic
    ? await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON, GENERIC_PLAN) ${q.text}`)
    : await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${q.text}`, q.values);
  return nodes(r.rows[0]!['QUERY PLAN'][0]!.Plan);
}

/**
 * Asserts that no node reads `table` sequentially and that `index` is used, in both plans;
 * with `cond`, that the index is entered with a condition matching it (a keyset cursor read
 * as a filter instead would walk the index from its start on every page).
 */
async function expectIndexed(q: Sent, table: string, index: string, cond?: RegExp): Promise<void> {
  // EXPLAIN (GENERIC_PLAN) exists from PostgreSQL 16; on 15 (npm run test:pg15) only the custom plan is checked.
  for (const generic of genericPlans ? [false, true] : [false]) {
    const found = await plan(q, generic);
    const summary = found.map((n) => `${n['Node Type']}${n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}${n['Index Name'] ? ` using ${n['Index Name']}` : ''}`).join(' / ');
    const label = `${q.name} (${generic ? 'generic' : 'custom'} plan): ${summary}`;
    expect(found.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === table), label).toEqual([]);
    expect(found.some((n) => n['Index Name'] === index), label).toBe(true);
    if (cond) expect(found.some((n) => n['Index Name'] === index && cond.test(n['Index Cond'] ?? '')), `${label}; index conditions: ${found.map((n) => n['Index Cond']).filter(Boolean).join(' / ')}`).toBe(true);
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await makeContext(db.url);
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  // SHOW names its column after the setting, so `.v` of it was undefined and the generic plans went unchecked on every version.
  genericPlans = Number((await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v) >= 160_000;
  const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
  await client.query(`INSERT INTO domains (name) SELECT 'd' || i || '.plans.example' FROM generate_series(0, ${DOMAINS - 1}) i`);
  // A hosting provider's shape besides: many more domains, most of them small (here empty).
  await client.query(`INSERT INTO domains (name) SELECT 'e' || i || '.plans.example' FROM generate_series(1, ${EMPTY_DOMAINS}) i`);
  await client.query(
    `INSERT INTO mailboxes (address, domain, password_hash)
     SELECT 'user' || i || '@d' || (i % ${DOMAINS}) || '.plans.example', 'd' || (i % ${DOMAINS}) || '.plans.example', $1 FROM generate_series(1, ${MAILBOXES}) i`,
    [hash],
  );
  await client.query(`INSERT INTO password_history (mailbox_id, password_hash) SELECT id, password_hash FROM mailboxes, generate_series(1, 3)`);
  await client.query(`INSERT INTO invalidations (address, reason, kick) SELECT address, 'rotation', true FROM mailboxes, generate_series(1, 2)`);
  await client.query(
    `INSERT INTO audit_log (at, actor, action, target) SELECT now() - (g || ' minutes')::interval, 'cli:root', 'mailbox.password', address FROM mailboxes, generate_series(1, 2) g`,
  );
  // Two app passwords per mailbox: one expired long ago (swept), one expiring in a month.
  await client.query(
    `INSERT INTO app_passwords (mailbox_id, name, secret_hmac, scopes, expires_at, expiry_invalidated_at)
     SELECT id, 'p' || g, sha256((id || ':' || g)::text::bytea), ARRAY['imap'],
            now() + CASE WHEN g = 1 THEN interval '-30 days' ELSE interval '30 days' END, CASE WHEN g = 1 THEN now() END
     FROM mailboxes, generate_series(1, 2) g`,
  );
  await client.query(`INSERT INTO admin_tokens (name, token_sha256) SELECT 't' || i, sha256(i::text::bytea) FROM generate_series(1, 5000) i`);
  // VACUUM too, as autovacuum leaves a settled table: the visibility map is what lets a count read the index alone.
  await client.query('VACUUM ANALYZE');
}, 300_000);
afterAll(async () => {
  await client?.end();
  await ctx?.close();
  await db?.drop();
});

describe('hot statements use their indexes at 50k mailboxes', () => {
  it('auth row lookup (verify) and userdb lookup: the address unique index, then the domains primary key', async () => {
    // The userdb route reads the same row with the same statement (http/auth-listener.ts).
    const [q] = await statementsOf((d) => getAuthRow(d, 'user4711@d711.plans.example'));
    expect(q!.name).toBe('mailbox-get-auth-main');
    await expectIndexed(q!, 'mailboxes', 'mailboxes_address_key');
    await expectIndexed(q!, 'domains', 'domains_pkey');
  });

  it('auth row lookup with an app password: also the (mailbox_id, secret_hmac) unique index, and no other table', async () => {
    const [q] = await statementsOf((d) => getAuthRow(d, 'user4711@d711.plans.example', Buffer.alloc(32, 9)));
    expect(q!.name).toBe('mailbox-get-auth-app');
    await expectIndexed(q!, 'mailboxes', 'mailboxes_address_key');
    await expectIndexed(q!, 'domains', 'domains_pkey');
    await expectIndexed(q!, 'app_passwords', 'app_passwords_mailbox_id_secret_hmac_key');
    // TOTP is a column of the mailbox row now (migration 0011): a login reads no mailbox_totp.
    expect(JSON.stringify(await plan(q!, false))).not.toContain('mailbox_totp');
  });

  it('auth rows of a batch (logins under load): the same three indexes, entered once per lookup, whatever the batch size', async () => {
    const lookups = (n: number) => Array.from({ length: n }, (_, i) => ({ address: `user${4711 + i * 37}@d${(711 + i) % 1000}.plans.example`, appPasswordHmac: i % 2 ? Buffer.alloc(32, i) : null }));
    for (const n of [2, 50, 256]) {
      const [q] = await statementsOf((d) => getAuthRows(d, lookups(n)));
      expect(q!.name).toBe('mailbox-get-auth-batch');
      await expectIndexed(q!, 'mailboxes', 'mailboxes_address_key');
      await expectIndexed(q!, 'domains', 'domains_pkey');
      // Entered on both columns: read by mailbox_id alone, every app password of the mailbox would be compared.
      await expectIndexed(q!, 'app_passwords', 'app_passwords_mailbox_id_secret_hmac_key', /secret_hmac/);
    }
  });

  it("rotation's history read: the (mailbox_id, id DESC) index", async () => {
    const id = (await client.query<{ id: string }>(`SELECT id FROM mailboxes WHERE address = 'user4711@d711.plans.example'`)).rows[0]!.id;
    const [q] = await statementsOf((d) => recentHashes(d, id, 5));
    await expectIndexed(q!, 'password_history', 'password_history_mailbox_idx');
  });

  it("node worker's cursor read: the invalidations primary key", async () => {
    const [q] = await statementsOf((d) => invalidationsAfter(d, '99000', 500));
    await expectIndexed(q!, 'invalidations', 'invalidations_pkey');
  });

  it('admin token lookup (both statements): the digest unique index', async () => {
    const sent = await statementsOf((d) => useToken(d, Buffer.alloc(32, 7)));
    expect(sent.map((q) => q.name)).toEqual(['token-use', 'token-get']);
    for (const q of sent) await expectIndexed(q, 'admin_tokens', 'admin_tokens_token_sha256_key');
  });

  it('audit by target: the (target, id) index', async () => {
    const [q] = await statementsOf((d) => listAudit(d, 'user4711@d711.plans.example', 50));
    await expectIndexed(q!, 'audit_log', 'audit_log_target_idx');
  });

  it('mailbox list pages: every mailbox by (domain, address) and one domain by address, the cursor an index condition', async () => {
    const [all] = await statementsOf((d) => listAllMailboxPage(d, { domain: 'd711.plans.example', address: 'user4711@d711.plans.example' }, 500));
    await expectIndexed(all!, 'mailboxes', 'mailboxes_domain_idx', /ROW\(domain, address\) > ROW\(/);
    const [first] = await statementsOf((d) => listAllMailboxPage(d, null, 500));
    await expectIndexed(first!, 'mailboxes', 'mailboxes_domain_idx');
    const [one] = await statementsOf((d) => listMailboxPage(d, 'd711.plans.example', null, 'user4711@d711.plans.example', 500));
    await expectIndexed(one!, 'mailboxes', 'mailboxes_domain_idx', /address > /);
  });

  it("domain list pages: the domains primary key from the cursor, and only the page's mailbox counts, each index-only on (domain, address)", async () => {
    const some = ['d711.plans.example', 'd712.plans.example', 'd13.plans.example'];
    for (const only of [null, some]) {
      for (const [q, after] of [[null, null], [null, 'd500.plans.example'], ['71', 'd500.plans.example']] as const) {
        const [s] = await statementsOf((d) => listDomainPage(d, only, q, after, 50));
        expect(s!.name).toBe(only === null ? 'domain-page' : 'domain-page-in');
        await expectIndexed(s!, 'domains', 'domains_pkey', /name > /);
        await expectIndexed(s!, 'mailboxes', 'mailboxes_domain_idx', /domain = /);
        for (const generic of genericPlans ? [false, true] : [false]) {
          const counts = (await plan(s!, generic)).filter((n) => n['Relation Name'] === 'mailboxes');
          expect(counts.map((n) => n['Node Type']), `${s!.name} (${generic ? 'generic' : 'custom'} plan)`).toEqual(['Index Only Scan']);
        }
      }
    }
  });

  it("audit pages: a domain admin's view by the audit_target_domain index, one target by (target, id), everything by id", async () => {
    for (const domains of [['d711.plans.example'], ['d711.plans.example', 'd712.plans.example', 'd13.plans.example']]) {
      for (const before of [null, '60000']) {
        const [q] = await statementsOf((d) => listAuditPage(d, null, domains, before, 50));
        expect(q!.name).toBe('audit-page-domains');
        await expectIndexed(q!, 'audit_log', 'audit_log_target_domain_idx', /id < /);
      }
    }
    const [target] = await statementsOf((d) => listAuditPage(d, 'user4711@d711.plans.example', ['d711.plans.example'], '60000', 50));
    await expectIndexed(target!, 'audit_log', 'audit_log_target_idx', /target = /);
    const [all] = await statementsOf((d) => listAuditPage(d, null, null, '60000', 50));
    await expectIndexed(all!, 'audit_log', 'audit_log_pkey', /id < /);
  });

  it('retention batches: audit by age (the at index), invalidations by id', async () => {
    const audit = (await statementsOf((d) => pruneAuditBatch(d, 86_400_000, 1000))).find((q) => q.name === 'audit-prune-batch');
    await expectIndexed(audit!, 'audit_log', 'audit_log_at_idx');
    const [inv] = await statementsOf((d) => pruneInvalidationsBatch(d, 3_600_000, 1000));
    await expectIndexed(inv!, 'invalidations', 'invalidations_pkey');
  });

  it('app password expiry sweep: the partial index of the unswept expiries, however many app passwords there are', async () => {
    const [q] = await statementsOf((d) => sweepExpiredBatch(d, 500));
    await expectIndexed(q!, 'app_passwords', 'app_passwords_expiry_due_idx');
  });
});
