/**
 * The domain listing is paged like a domain's mailboxes (DESIGN §8: at a hosting
 * provider's 100,000 domains it was one query, one body and one count of every
 * mailbox per call): `GET /v1/domains` (still an array; limit, cursor, q; the way
 * on in Link and X-Next-Cursor; a domain token still sees only its domain) and
 * `domain list` through the built binary (a page per query, everything printed).
 * The console's /domains is in console-pages.test.ts. Real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions } from 'fastify';
import { addDomain, setDomainEnabled } from '../../src/accounts/domains.js';
import { createToken } from '../../src/accounts/tokens.js';
import type { App } from '../../src/http/server.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { inProcessAdmin, makeContext, type TestContext } from '../helpers/context.js';
import { runCli } from '../helpers/cli.js';

const actor = { actor: 'test', sourceIp: null };
/** Domains with their mailbox counts, in name order. */
const DOMAINS: Array<[string, number]> = [
  ['alpha.example', 3],
  ['beta.example', 0],
  ['delta.example', 1],
  ['epsilon.example', 2],
  ['gamma.example', 0],
];
const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

let db: { url: string; drop(): Promise<void> };
let ctx: TestContext;
let admin: App;
let global: string;
let scoped: string; // of delta.example

const cli = (args: string[]) => runCli(args, { env: { MAILPASSD_DATABASE_URL: db.url } });

async function call(url: string, token: string = global) {
  const r = await admin.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } } as InjectOptions);
  return { status: r.statusCode, headers: r.headers, body: r.json() as any };
}

/** Follows Link rel="next" from `url` to the last page: every page's names, and the X-Next-Cursor each had. */
async function walk(url: string, token: string = global): Promise<{ pages: string[][]; cursors: Array<string | undefined> }> {
  const pages: string[][] = [];
  const cursors: Array<string | undefined> = [];
  for (let next: string | undefined = url; next !== undefined; ) {
    const r = await call(next, token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    pages.push(r.body.map((d: any) => d.name));
    cursors.push(r.headers['x-next-cursor'] as string | undefined);
    next = /^<([^>]+)>; rel="next"$/.exec(String(r.headers.link ?? ''))?.[1];
    if (pages.length > 20) throw new Error('the pages do not end');
  }
  return { pages, cursors };
}

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await makeContext(db.url, { MAILPASSD_LOG_LEVEL: 'silent' });
  ({ admin } = await inProcessAdmin(ctx));
  for (const [name, mailboxes] of DOMAINS) {
    await addDomain(ctx, actor, name);
    // One precomputed hash: seeding takes milliseconds, not an argon2 per mailbox.
    await ctx.pool.query(`INSERT INTO mailboxes (address, domain, password_hash) SELECT 'u' || i || '@' || $1, $1, $2 FROM generate_series(1, $3::int) i`, [name, HASH, mailboxes]);
  }
  await setDomainEnabled(ctx, actor, 'gamma.example', false, 'moved away');
  global = (await createToken(ctx, actor, 'root', null)).token;
  scoped = (await createToken(ctx, actor, 'delta', 'delta.example')).token;
});

afterAll(async () => {
  await admin?.close();
  await ctx?.close();
  await db?.drop();
});

describe('GET /v1/domains', () => {
  it('without paging parameters: every domain in one array, as before, and no way on', async () => {
    const r = await call('/v1/domains');
    expect(r.status).toBe(200);
    expect(r.body.map((d: any) => [d.name, d.mailbox_count])).toEqual(DOMAINS);
    expect(r.body[4]).toEqual({
      name: 'gamma.example',
      enabled: false,
      disabled_reason: 'moved away',
      policy: {},
      mailbox_count: 0,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      notices: expect.any(Boolean),
      notice_language: null,
    });
    expect(r.headers['x-next-cursor']).toBeUndefined();
    expect(r.headers.link).toBeUndefined();
  });

  it('limit and cursor: Link rel="next" and X-Next-Cursor while there is more; the walk covers every domain exactly once, in order', async () => {
    const first = await call('/v1/domains?limit=2');
    expect(first.body.map((d: any) => d.name)).toEqual(['alpha.example', 'beta.example']);
    expect(first.headers['x-next-cursor']).toBe('beta.example');
    expect(first.headers.link).toBe('</v1/domains?limit=2&cursor=beta.example>; rel="next"');
    // The cursor alone (the X-Next-Cursor way) and the Link way agree.
    expect((await call('/v1/domains?limit=2&cursor=beta.example')).body.map((d: any) => d.name)).toEqual(['delta.example', 'epsilon.example']);

    for (const limit of [1, 2, 3, 4, 5]) {
      const { pages, cursors } = await walk(`/v1/domains?limit=${limit}`);
      expect(pages.flat(), `limit=${limit}`).toEqual(DOMAINS.map(([name]) => name));
      expect(pages.slice(0, -1).every((p) => p.length === limit), `limit=${limit}`).toBe(true);
      expect(cursors.at(-1), `limit=${limit}`).toBeUndefined();
      expect(cursors.slice(0, -1), `limit=${limit}`).toEqual(pages.slice(0, -1).map((p) => p.at(-1)));
    }
  });

  it('q: a case-insensitive substring of the name, kept in the next link', async () => {
    const r = await call('/v1/domains?q=TA&limit=1');
    expect(r.body.map((d: any) => d.name)).toEqual(['beta.example']);
    expect(r.headers.link).toBe('</v1/domains?limit=1&cursor=beta.example&q=TA>; rel="next"');
    expect((await walk('/v1/domains?q=TA&limit=1')).pages.flat()).toEqual(['beta.example', 'delta.example']);
    // LIKE's wildcards are taken literally.
    expect((await call('/v1/domains?q=%25')).body).toEqual([]);
    expect((await call('/v1/domains?q=_')).body).toEqual([]);
  });

  it('limit outside 1-1000, an empty or overlong cursor, an unknown parameter: 400 invalid_request naming it', async () => {
    for (const [query, names] of [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=ten', 'limit'],
      ['cursor=', 'cursor'],
      [`cursor=${'a'.repeat(254)}`, 'cursor'],
      ['page=2', 'page'],
    ]) {
      const r = await call(`/v1/domains?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.headers['content-type'], query).toMatch(/^application\/problem\+json/);
      expect(r.body.code, query).toBe('invalid_request');
      expect(r.body.detail, query).toContain(names);
    }
    expect((await call('/v1/domains?limit=1000')).body).toHaveLength(5);
  });

  it('a domain token sees its own domain only, on every page and in every search', async () => {
    const { pages, cursors } = await walk('/v1/domains?limit=1', scoped);
    expect(pages).toEqual([['delta.example']]);
    expect(cursors).toEqual([undefined]);
    expect((await call('/v1/domains', scoped)).body.map((d: any) => [d.name, d.mailbox_count])).toEqual([['delta.example', 1]]);
    // A cursor or a search elsewhere finds nothing of the others.
    expect((await call('/v1/domains?cursor=alpha.example', scoped)).body.map((d: any) => d.name)).toEqual(['delta.example']);
    expect((await call('/v1/domains?cursor=delta.example', scoped)).body).toEqual([]);
    expect((await call('/v1/domains?q=alpha', scoped)).body).toEqual([]);
  });

  it('is described in the OpenAPI document like the mailbox listing: limit, cursor and q, the Link and X-Next-Cursor headers', async () => {
    const doc = (await call('/openapi.json')).body;
    for (const path of ['/v1/domains', '/v1/domains/{domain}/mailboxes']) {
      const op = doc.paths[path].get;
      expect(op.parameters.filter((p: any) => p.in === 'query').map((p: any) => p.name).sort(), path).toEqual(['cursor', 'limit', 'q']);
      expect(Object.keys(op.responses['200'].headers), path).toEqual(expect.arrayContaining(['link', 'x-next-cursor']));
      expect(op.responses['200'].content['application/json'].schema.type, path).toBe('array');
    }
    const limit = doc.paths['/v1/domains'].get.parameters.find((p: any) => p.name === 'limit');
    expect(limit.description ?? limit.schema.description).toContain('default 1000');
  });
});

describe('mailpassd domain list', () => {
  it('--page-size 2 over five domains prints all five, as a table and as one JSON array', async () => {
    const json = await cli(['domain', 'list', '--page-size', '2', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout);
    expect(rows.map((d: any) => [d.name, d.mailbox_count])).toEqual(DOMAINS);
    expect(rows[4]).toMatchObject({ name: 'gamma.example', enabled: false, disabled_reason: 'moved away', policy: {} });
    // The same array as one page of them all.
    expect(JSON.parse((await cli(['domain', 'list', '--json'])).stdout)).toEqual(rows);

    const table = await cli(['domain', 'list', '--page-size', '2']);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+ENABLED\s+MAILBOXES\s+CREATED_AT\s+DISABLED_REASON$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual(DOMAINS.map(([name, n]) => [name, String(name !== 'gamma.example'), String(n)]));
    expect(lines[5]).toMatch(/moved away$/);
  }, 60_000);

  it('--page-size outside 1-10000 is a usage error (64); --help says it pages', async () => {
    for (const size of ['0', '10001', 'x']) {
      const r = await cli(['domain', 'list', '--page-size', size]);
      expect(r.code, size).toBe(64);
      expect(r.stderr, size).toContain('--page-size');
    }
    const help = await cli(['domain', 'list', '--help']);
    expect(help.code).toBe(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('read and printed a page at a time');
    expect(text).toContain('--page-size <n> domains read per query (1-10000) (default: "500")');
  }, 60_000);
});
