import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/postgres.js';
import { waitFor as until } from '../helpers/wait.js';
import { adminToken, postJson, seedMailbox, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

/**
 * DESIGN §3 rule 5: passwords never leave the request. Every flow runs with known
 * secrets, then every log line, audit row, error body and /metrics page is searched.
 */
const SECRETS = {
  initial: 'Initial-Secret-Phrase-7731',
  rotated: 'Rotated-Secret-Phrase-8842',
  wrong: 'Wrong-Guess-Phrase-9953',
  selfNew: 'Self-Chosen-Phrase-1064',
  refused: 'Alice-Martin-1990-refused',
  authSecret: 'dovecot-shared-secret-7f3a9c21',
  cliNew: 'Cli-Typed-Phrase-2175',
};
let db: { url: string; drop(): Promise<void> };
let d: TestDaemon;
let token: string;
const bodies: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  d = await startTestDaemon({ databaseUrl: db.url, env: { MAILPASSD_AUTH_SECRET: SECRETS.authSecret, MAILPASSD_LOG_LEVEL: 'trace' } });
  await seedMailbox(d, 'alice@example.org', SECRETS.initial, 'Alice Martin');
  token = await adminToken(d, 'secrets-test');
  // What every test searches: the flows run here, not in a test the others would depend on.
  await runEveryFlow();
}, 120_000);
afterAll(async () => {
  await d?.stop();
  await db?.drop();
});

const authz = () => ({ authorization: `Bearer ${SECRETS.authSecret}` });
const check = (user: string, password: string, headers: Record<string, string> = authz()) =>
  postJson(`${d.authUrl}/v1/passdb/verify`, { user, password, service: 'imap' }, headers);
const admin = (path: string, body: unknown) => postJson(`${d.adminUrl}${path}`, body, { authorization: `Bearer ${token}` });

/** Every flow a password passes through, with known secrets; the answers are kept in `bodies`. */
async function runEveryFlow(): Promise<void> {
  const record = (r: { text: string }) => bodies.push(r.text);
  record(await check('alice@example.org', SECRETS.initial));
  record(await check('alice@example.org', SECRETS.wrong));
  record(await check('nobody@example.org', SECRETS.wrong));
  record(await check('alice@example.org', SECRETS.wrong, {})); // 401: no secret
  record(await postJson(`${d.authUrl}/v1/passdb/verify`, { user: 'alice@example.org', password: SECRETS.wrong, extra: SECRETS.wrong }, authz()));
  record(await admin('/v1/mailboxes/alice@example.org/rotate', { password: SECRETS.refused }));
  record(await admin('/v1/mailboxes/alice@example.org/rotate', { password: SECRETS.rotated, wait_ms: 2000 }));
  record(await admin('/v1/mailboxes/alice@example.org/rotate', { password: SECRETS.rotated, generate: true }));
  record(await admin('/v1/mailboxes', { address: 'bob@example.org', password: SECRETS.initial, unknown: SECRETS.wrong }));
  const form = (user: string, cur: string, next: string) =>
    fetch(`${d.adminUrl}/v1/self-service/password`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user, curpass: cur, newpass: next }).toString(),
    }).then(async (r) => record({ text: await r.text() }));
  await form('alice@example.org', SECRETS.wrong, SECRETS.selfNew);
  await form('alice@example.org', SECRETS.rotated, SECRETS.refused);
  await form('alice@example.org', SECRETS.rotated, SECRETS.selfNew);
  const cli = await d.cli(['rotate', 'alice@example.org', '--password-stdin', '--json'], SECRETS.cliNew);
  bodies.push(cli.stderr); // stdout may carry only what the user asked for
  expect(cli.code).toBe(0);
  expect((await check('alice@example.org', SECRETS.cliNew)).body.result).toBe('ok');
  const argvTry = await d.cli(['mailbox', 'add', 'carol@example.org', '--password', SECRETS.initial]);
  expect(argvTry.code).toBe(64);
  bodies.push(argvTry.stderr);
}

describe('secrets never leak', () => {
  it('no secret in any log line, response body, audit row, history-free audit, or /metrics', async () => {
    // Trace level, every verify and rotation logged: there was plenty to leak into. The log
    // stream is asynchronous: it is searched once the flows' lines are there.
    await until('the flows in the log', 5_000, () => (d.logs().match(/passdb verify/g)?.length ?? 0) >= 4 && d.logs().includes('password changed'));
    const metrics = await (await fetch(`${d.adminUrl}/metrics`)).text();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const audit = JSON.stringify((await c.query('SELECT * FROM audit_log')).rows);
    const nodes = JSON.stringify((await c.query('SELECT * FROM nodes')).rows);
    const invalidations = JSON.stringify((await c.query('SELECT * FROM invalidations')).rows);
    const hashes = (await c.query<{ password_hash: string }>('SELECT password_hash FROM password_history')).rows.map((r) => r.password_hash);
    await c.end();
    const haystacks = { logs: d.logs(), bodies: bodies.join('\n'), audit, nodes, invalidations, metrics };
    for (const [where, text] of Object.entries(haystacks)) {
      for (const [name, secret] of Object.entries(SECRETS)) expect(text.includes(secret), `${name} found in ${where}`).toBe(false);
      for (const hash of hashes) expect(text.includes(hash), `a password hash found in ${where}`).toBe(false);
      expect(text.includes(token), `the admin token found in ${where}`).toBe(false);
    }
  });

  it('the daemon\'s argv carries no secret', async () => {
    const { readFileSync } = await import('node:fs');
    const argv = readFileSync(`/proc/${d.pid}/cmdline`, 'utf8');
    for (const secret of Object.values(SECRETS)) expect(argv).not.toContain(secret);
  });
});
