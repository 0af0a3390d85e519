/**
 * What the login-name e2e tests (Dovecot 2.3 and 2.4) share: mailboxes whose
 * names doveadm could misread, and the spellings of one mailbox a client may
 * type. Each scenario runs its own node daemon next to the backend (which
 * never touches Dovecot), so only that node can make a change take effect.
 */
import pg from 'pg';
import { expect } from 'vitest';
import type { E2eBackend } from './dovecot.js';
import { nodeIn, REFUSED, RotationScenario, WAIT_FAIL_MS, WAIT_OK_MS, expectKicked, type Account } from './rotation-scenario.js';

export const DOMAIN = 'names.example';
export const account = (local: string, n: number): Account => ({
  address: `${local}@${DOMAIN}`,
  old: `Walrus-Trellis-Copper-${n}4-Meadow`,
  new: `Basalt-Lichen-Oxbow-${n}8-Tundra`,
});

/**
 * A mailbox stored before the rule for new names: it can no longer be
 * created, so the row is written the way an older mailpassd (or an import)
 * left it, with the password of an existing mailbox.
 */
export async function legacyMailbox(backend: E2eBackend, address: string, passwordOf: string): Promise<void> {
  const c = new pg.Client({ connectionString: backend.cluster.url });
  await c.connect();
  try {
    const r = await c.query(
      `INSERT INTO mailboxes (address, domain, password_hash) SELECT $1, domain, password_hash FROM mailboxes WHERE address = $2`,
      [address, passwordOf],
    );
    if (r.rowCount !== 1) throw new Error(`no mailbox ${passwordOf} to copy the password of`);
  } finally {
    await c.end();
  }
}

/** The story for a name that starts with `-`: a node that passes `--` flushes and kicks it like any other. */
export async function dashNameRotates(sc: RotationScenario, nodeId: string, env: Record<string, string>, a: Account): Promise<void> {
  const node = await sc.startNode(nodeId, env);
  const session = await sc.openSession(a);
  try {
    const body = await sc.rotate(a.address, a.new, WAIT_OK_MS);
    expect(nodeIn(body, nodeId), JSON.stringify(body)).toEqual({ node_id: nodeId, applied: true, stale: false });
    await expectKicked(session);
    await sc.expectOldRefusedNewAccepted(a);
  } finally {
    session.close();
    await sc.stopNode(node);
  }
}

/**
 * The story for a stored name with a doveadm wildcard: rotating `pattern`
 * must not end `victim`'s session (the mask would match it), and the node
 * must say the kick did not happen rather than confirm the rotation.
 */
export async function wildcardNameKicksNobodyElse(sc: RotationScenario, nodeId: string, env: Record<string, string>, pattern: Account, victim: Account): Promise<void> {
  const node = await sc.startNode(nodeId, env);
  const session = await sc.openSession(victim);
  try {
    const body = await sc.rotate(pattern.address, pattern.new, WAIT_FAIL_MS);
    const n = nodeIn(body, nodeId);
    expect(n.applied, JSON.stringify(body)).toBe(false);
    expect(n.error).toMatch(/doveadm kick: not run, .* contains a doveadm wildcard \(\* or \?\)/);
    const noop = await session.command('NOOP', 10_000);
    expect(noop.line, JSON.stringify(noop)).toMatch(/^a\d+ OK NOOP/);
  } finally {
    session.close();
    await sc.stopNode(node);
  }
}

/** Spellings a client may type for `spell@names.example`; the first three are the same name to Dovecot's cache. */
export const spellings = (local: string) => [
  `${local}@${DOMAIN}`,
  `${local.toUpperCase()}@${DOMAIN.toUpperCase()}`,
  `${local[0]!.toUpperCase()}${local.slice(1)}@Names.Example`,
  `${local}@${DOMAIN}.`,
  `${local.toUpperCase()}@${DOMAIN.toUpperCase()}.`,
  `${local}@names.exämple`,
];

/**
 * Log in with every spelling (filling Dovecot's cache with what it accepts),
 * rotate, then no spelling may log in with the old password. The spellings
 * accepted are exactly the ASCII-case ones: any other would be a cache entry
 * that the rotation's flush of the stored name does not reach.
 */
export async function everySpellingFlushed(sc: RotationScenario, nodeId: string, env: Record<string, string>, a: Account, typed: string[]): Promise<void> {
  const node = await sc.startNode(nodeId, env);
  try {
    const accepted: string[] = [];
    for (const name of typed) {
      const r = await sc.login(name, a.old);
      if (/^a1 OK .*Logged in/.test(r.line)) accepted.push(name);
      else expect(r.line, name).toBe(REFUSED);
    }

    const body = await sc.rotate(a.address, a.new, WAIT_OK_MS);
    expect(nodeIn(body, nodeId), JSON.stringify(body)).toEqual({ node_id: nodeId, applied: true, stale: false });

    for (const name of typed) expect((await sc.login(name, a.old)).line, `${name} with the old password`).toBe(REFUSED);
    expect(accepted).toEqual(typed.slice(0, 3));
    for (const name of accepted) expect((await sc.login(name, a.new)).line, `${name} with the new password`).toMatch(/^a1 OK .*Logged in/);
  } finally {
    await sc.stopNode(node);
  }
}

/** A `+` local part (allowed for new mailboxes) logs in through the shipped snippet. */
export async function plusNameLogsIn(sc: RotationScenario, a: Account): Promise<void> {
  expect((await sc.login(a.address, a.old)).line).toMatch(/^a1 OK .*Logged in/);
}
