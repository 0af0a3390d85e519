/**
 * What the rotation-through-Dovecot e2e tests (2.3 and 2.4) share: node daemons
 * started for one Dovecot on the backend's database, rotating through the
 * backend's admin API, and asking Dovecot itself whether the change is in force.
 */
import { expect } from 'vitest';
import { postJson, startTestDaemon, type TestDaemon } from './daemon.js';
import { eventually, type DovecotInstance, type E2eBackend } from './dovecot.js';
import { freshLoopback, ImapSession, imapLogin, type TaggedResponse } from './imap.js';

/** How long a rotation may wait for a node that should confirm (never reached when it works). */
export const WAIT_OK_MS = 15_000;
/** How long a rotation waits when a node is expected NOT to confirm. */
export const WAIT_FAIL_MS = 4_000;
export const REFUSED = 'a1 NO [AUTHENTICATIONFAILED] Authentication failed.';

/** A mailbox of its own per scenario, so no cache entry, session or auth penalty carries over. */
export interface Account {
  address: string;
  old: string;
  new: string;
}

export interface NodeOutcome {
  node_id: string;
  applied: boolean;
  stale: boolean;
  error?: string;
}
export interface RotateBody {
  address: string;
  complete: boolean;
  nodes: NodeOutcome[];
}

export function nodeIn(body: RotateBody, nodeId: string): NodeOutcome {
  const n = body.nodes.find((x) => x.node_id === nodeId);
  if (!n) throw new Error(`node ${nodeId} missing from ${JSON.stringify(body)}`);
  return n;
}

/**
 * The connection is ended by the server. doveadm's kick returns once the
 * signal is sent, and the IMAP process may answer one more NOOP before it acts
 * on it, so ask until it goes (bounded).
 */
export async function expectKicked(s: ImapSession): Promise<void> {
  let after: TaggedResponse | null = null;
  const gone = await eventually(async () => {
    after = await s.command('NOOP', 10_000);
    return after.status === 'CLOSED' || after.untagged.some((l) => /^\* BYE/.test(l));
  }, 10_000, 100);
  expect(gone, JSON.stringify(after)).toBe(true);
}

export class RotationScenario {
  private readonly nodes = new Set<TestDaemon>();

  constructor(
    private readonly backend: E2eBackend,
    private readonly dc: DovecotInstance,
    private readonly token: string,
  ) {}

  /** A node daemon for this Dovecot, on the same database; stopped by the caller or by stopAll. */
  async startNode(nodeId: string, env: Record<string, string>, user?: { uid: number; gid: number }): Promise<TestDaemon> {
    const d = await startTestDaemon({ databaseUrl: this.backend.cluster.url, nodeId, env, ...(user ? { user } : {}) });
    this.nodes.add(d);
    return d;
  }

  async stopNode(d: TestDaemon): Promise<void> {
    this.nodes.delete(d);
    await d.stop();
  }

  async stopAll(): Promise<void> {
    for (const d of [...this.nodes]) await this.stopNode(d).catch(() => undefined);
  }

  async rotate(address: string, password: string, waitMs: number): Promise<RotateBody> {
    const r = await postJson(`${this.backend.daemon.adminUrl}/v1/mailboxes/${encodeURIComponent(address)}/rotate`, { password, wait_ms: waitMs }, { authorization: `Bearer ${this.token}` });
    expect(r.status, r.text).toBe(200);
    return r.body as RotateBody;
  }

  authTest(user: string, password: string) {
    return this.dc.doveadm(['auth', 'test', '-x', `rip=${freshLoopback()}`, user, password]);
  }

  login(user: string, password: string) {
    return imapLogin(this.dc.imapPort, user, password, { localAddress: freshLoopback() });
  }

  /** An IMAP session logged in with the old password (which also puts it in Dovecot's cache). */
  async openSession(a: Account): Promise<ImapSession> {
    const s = await ImapSession.open(this.dc.imapPort, { localAddress: freshLoopback() });
    expect((await s.login(a.address, a.old)).line).toMatch(/^a1 OK .*Logged in/);
    return s;
  }

  async expectOldRefusedNewAccepted(a: Account): Promise<void> {
    expect((await this.login(a.address, a.old)).line).toBe(REFUSED);
    expect((await this.login(a.address, a.new)).line).toMatch(/^a1 OK .*Logged in/);
  }
}
