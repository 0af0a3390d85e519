import { addMailbox, CHEAP_HASH, createToken, startDaemon, type Daemon, type DaemonOptions } from '../../harness/daemon.js';

export type TestDaemon = Daemon;
export type { DaemonOptions };

/**
 * Starts `mailpassd serve` (dist/) as a real process on free loopback ports,
 * tuned for suites: cheap argon2, short rotation heartbeats.
 */
export function startTestDaemon(opts: DaemonOptions): Promise<TestDaemon> {
  return startDaemon({
    ...opts,
    env: {
      ...CHEAP_HASH,
      MAILPASSD_ROTATION_HEARTBEAT_MS: '500',
      MAILPASSD_ROTATION_POLL_INTERVAL_MS: '500',
      MAILPASSD_ROTATION_STALE_AFTER_MS: '3000',
      ...opts.env,
    },
  });
}

/** POST JSON to a daemon listener and return status + parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* text body */
  }
  return { status: res.status, body: parsed, text };
}

export async function verify(d: TestDaemon, user: string, password: string, extra: Record<string, string> = {}) {
  return postJson(`${d.authUrl}/v1/passdb/verify`, { user, password, service: 'imap', ...extra });
}

/** Creates a domain, a mailbox with `password`; throws on failure. */
export const seedMailbox = addMailbox;

export const adminToken = createToken;
