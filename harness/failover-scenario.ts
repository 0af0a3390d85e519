/**
 * A PostgreSQL failover under load, shared by the test (which asserts on its
 * figures) and the benchmark (which prints them): a primary with a synchronous
 * replica behind a TCP proxy, three daemons on the proxy's address, logins and
 * rotations running, then the primary killed, the replica promoted and the proxy
 * repointed — what a virtual IP or a pooler does in production.
 *
 * What it counts as wrong: a right password answered password_mismatch or
 * user_unknown, or a wrong password answered ok. A temporary failure
 * (503 internal_failure) is what Dovecot turns into "try again": allowed during
 * the switch. Logins and rotations use separate mailboxes, so a login never
 * races a rotation of its own mailbox.
 */
import { randomBytes, randomInt } from 'node:crypto';
import pg from 'pg';
import { createToken, startDaemon, type Daemon } from './daemon.js';
import { startReplicatedPair, type PgBinaries } from './pg-replication.js';
import { createDatabase } from './postgres.js';
import { sleep, waitFor } from './process.js';
import { startTcpProxy } from './tcp-proxy.js';

export interface FailoverOptions {
  binaries: PgBinaries;
  /** Environment for every daemon (hash cost, intervals). */
  daemonEnv: Record<string, string>;
  /** Login load before the primary dies, and after the switch. */
  loadBeforeMs: number;
  loadAfterMs: number;
  /** Between the primary's death and the promotion: how long a failover manager takes to decide. */
  detectionMs: number;
  concurrency: number;
}

type Answer = 'ok' | 'mismatch' | 'unknown_user' | 'tempfail' | 'throttled' | 'other';

export interface FailoverFigures {
  postgres: string;
  logins: { total: number; byAnswer: Record<Answer, number>; wrong: string[] };
  /** Per node: from the promotion to its first ok login. */
  promotionToFirstOkMs: Record<string, number | null>;
  rotations: { acknowledged: number; ambiguous: number; lost: string[]; failedDuringSwitch: number };
  /** Node cursor ≥ the newest invalidation on every node after the switch. */
  caughtUp: Record<string, boolean>;
  /** The daemon logged that its LISTEN connection came back. */
  listenReestablished: Record<string, boolean>;
  /** A rotation after the switch, confirmed by all three nodes, and how long that took. */
  afterSwitch: { complete: boolean; ms: number; answer: string };
  /** Daemons that exited during the run, with the end of their output. */
  crashed: string[];
}

interface Mailbox {
  address: string;
  password: string;
}

const strong = () => `${randomBytes(12).toString('base64url')}-Qz9`;

/** A parsed JSON answer (or the text), read field by field where used. */
type Json = { result?: string; complete?: boolean; nodes?: unknown[] } | string | null;

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    let parsed: Json = null;
    try {
      parsed = JSON.parse(text) as Json;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed };
  } catch (err) {
    return { status: 0, body: String(err) };
  }
}

function answerOf(r: { status: number; body: Json }): Answer {
  if (r.status === 200) {
    switch (typeof r.body === 'object' ? r.body?.result : undefined) {
      case 'ok':
        return 'ok';
      case 'password_mismatch':
        return 'mismatch';
      case 'user_unknown':
        return 'unknown_user';
    }
    return 'other';
  }
  if (r.status === 503 || r.status === 0) return 'tempfail';
  if (r.status === 429) return 'throttled';
  return 'other';
}

export async function runFailover(opts: FailoverOptions): Promise<FailoverFigures> {
  const pair = await startReplicatedPair(opts.binaries);
  const proxy = await startTcpProxy(pair.primaryPort());
  const daemons: Daemon[] = [];
  try {
    const viaProxy = pair.primaryUrl().replace(/:\d+\/postgres$/, `:${proxy.port}/postgres`);
    const db = await createDatabase(viaProxy, 'mailpassd');
    daemons.push(...(await Promise.all(['mail1', 'mail2', 'mail3'].map((id) => startDaemon({ databaseUrl: db.url, nodeId: id, env: opts.daemonEnv })))));
    const crashed: string[] = [];
    for (const d of daemons) void d.exited.then((code) => void crashed.push(`${d.nodeId} exited ${code}: ${d.logs().split('\n').filter((l) => !l.startsWith('{')).slice(-25).join('\n')}`));
    const first = daemons[0]!;
    const token = await createToken(first);
    // Through the admin API: one CLI process per mailbox cost seconds on a loaded machine.
    const api = (path: string, body: unknown) => post(`${first.adminUrl}${path}`, body, { authorization: `Bearer ${token}` });
    if ((await api('/v1/domains', { name: 'failover.test' })).status !== 201) throw new Error('domain add failed');
    const add = async (prefix: string, n: number): Promise<Mailbox[]> =>
      Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const m = { address: `${prefix}${i}@failover.test`, password: strong() };
          const r = await api('/v1/mailboxes', { address: m.address, password: m.password });
          if (r.status !== 201) throw new Error(`mailbox add failed: ${r.status} ${JSON.stringify(r.body)}`);
          return m;
        }),
      );
    const right = await add('user', 4);
    const decoys = await add('decoy', 2);
    const rotating = (await add('rot', 2)).map((m) => ({ ...m, pending: null as string | null }));

    const byAnswer: Record<Answer, number> = { ok: 0, mismatch: 0, unknown_user: 0, tempfail: 0, throttled: 0, other: 0 };
    const wrong: string[] = [];
    let promotedAt: number | null = null;
    const firstOk: Record<string, number | null> = Object.fromEntries(daemons.map((d) => [d.nodeId, null]));
    let running = true;

    const loginLoop = async () => {
      while (running) {
        const d = daemons[randomInt(daemons.length)]!;
        const useRight = randomInt(4) !== 0;
        const m = useRight ? right[randomInt(right.length)]! : decoys[randomInt(decoys.length)]!;
        // Wrong guesses from addresses of their own: the throttle never gets in the way of the count.
        const remote = useRight ? '192.0.2.10' : `198.51.100.${randomInt(1, 250)}`;
        const r = await post(`${d.authUrl}/v1/passdb/verify`, { user: m.address, password: useRight ? m.password : strong(), service: 'imap', remote_ip: remote });
        const a = answerOf(r);
        byAnswer[a]++;
        if (useRight && (a === 'mismatch' || a === 'unknown_user')) wrong.push(`${d.nodeId}: right password of ${m.address} answered ${a}`);
        if (!useRight && a === 'ok') wrong.push(`${d.nodeId}: wrong password of ${m.address} accepted`);
        if (a === 'other') wrong.push(`${d.nodeId}: unexpected answer ${r.status} ${JSON.stringify(r.body)}`);
        if (useRight && a === 'ok' && promotedAt !== null && firstOk[d.nodeId] === null) firstOk[d.nodeId] = Date.now() - promotedAt;
      }
    };

    let acknowledged = 0;
    let ambiguous = 0;
    let failedDuringSwitch = 0;
    const rotationLoop = async () => {
      for (let i = 0; running; i++) {
        const m = rotating[i % rotating.length]!;
        const d = daemons[i % daemons.length]!;
        const next = strong();
        // A given password, not a generated one: when the answer is lost, both candidates are known.
        const r = await post(`${d.adminUrl}/v1/mailboxes/${encodeURIComponent(m.address)}/rotate`, { password: next, wait_ms: 2_000 }, { authorization: `Bearer ${token}` });
        if (r.status === 200) {
          acknowledged++;
          m.password = next;
          m.pending = null;
        } else {
          failedDuringSwitch++;
          if (r.status === 0 || r.status >= 500) {
            ambiguous++;
            m.pending = next; // may or may not have committed
          }
          await sleep(100);
        }
      }
    };

    const loops = [...Array.from({ length: opts.concurrency }, loginLoop), rotationLoop()];
    await sleep(opts.loadBeforeMs);
    await pair.killPrimary();
    proxy.repoint(null);
    await sleep(opts.detectionMs);
    await pair.promote();
    proxy.repoint(pair.replicaPort);
    promotedAt = Date.now();
    await sleep(opts.loadAfterMs);
    try {
      await waitFor('every node to answer an ok login after the switch', 60_000, () => Object.values(firstOk).every((v) => v !== null));
    } catch (err) {
      running = false;
      throw new Error(`${(err as Error).message}; answers ${JSON.stringify(byAnswer)}; logs:\n${daemons.map((d) => `${d.nodeId}:\n${d.logs().split('\n').filter((l) => !l.startsWith('{') || /"level":[4-6]/.test(l)).slice(-30).join('\n')}`).join('\n')}`, { cause: err });
    }
    running = false;
    await Promise.all(loops);

    // Every acknowledged rotation survived; an ambiguous one left exactly one of its two passwords working.
    const lost: string[] = [];
    for (const m of rotating) {
      const candidates = m.pending ? [m.password, m.pending] : [m.password];
      for (const d of daemons) {
        const answers = await Promise.all(candidates.map((p) => post(`${d.authUrl}/v1/passdb/verify`, { user: m.address, password: p, service: 'imap', remote_ip: '192.0.2.20' })));
        const oks = answers.filter((a) => answerOf(a) === 'ok').length;
        if (oks !== 1) lost.push(`${d.nodeId}: ${m.address} has ${oks} working passwords of ${candidates.length} candidates (${m.pending ? 'last answer lost' : 'acknowledged'})`);
      }
    }

    const started = Date.now();
    const after = await post(`${first.adminUrl}/v1/mailboxes/${encodeURIComponent(rotating[0]!.address)}/rotate`, { password: strong(), wait_ms: 10_000 }, { authorization: `Bearer ${token}` });
    const afterSwitch = { complete: after.status === 200 && typeof after.body === 'object' && after.body?.complete === true && after.body?.nodes?.length === 3, ms: Date.now() - started, answer: `${after.status} ${JSON.stringify(after.body)}` };

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    let caughtUp: Record<string, boolean>;
    try {
      const newest = (await client.query<{ id: string }>('SELECT coalesce(max(id), 0)::text AS id FROM invalidations')).rows[0]!.id;
      const nodes = (await client.query<{ node_id: string; applied: string }>('SELECT node_id, applied_invalidation_id::text AS applied FROM nodes')).rows;
      caughtUp = Object.fromEntries(daemons.map((d) => [d.nodeId, nodes.some((n) => n.node_id === d.nodeId && BigInt(n.applied) >= BigInt(newest))]));
    } finally {
      await client.end();
    }
    const listenReestablished = Object.fromEntries(daemons.map((d) => [d.nodeId, /invalidation listener re-established/.test(d.logs())]));
    return {
      postgres: opts.binaries.label,
      logins: { total: Object.values(byAnswer).reduce((a, b) => a + b, 0), byAnswer, wrong },
      promotionToFirstOkMs: firstOk,
      rotations: { acknowledged, ambiguous, lost, failedDuringSwitch },
      caughtUp,
      listenReestablished,
      afterSwitch,
      crashed: [...crashed],
    };
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await proxy.close();
    await pair.destroy();
  }
}
