import type { DoveadmTarget } from '../config/index.js';
import { MailpassdError } from '../core/errors.js';
import { runBinary, type RunBinary } from './run-binary.js';

/** How this node reaches its Dovecot to make a change take effect: flush the auth cache, kick sessions. */
export interface Doveadm {
  readonly kind: DoveadmTarget['kind'];
  /** Flush one user's cached credentials (doctor uses it to prove the path works). */
  flush(user: string): Promise<void>;
  /**
   * One invalidation: flush the user's cached credentials, then (with `kick`) end
   * their sessions — in that order, because a kicked client reconnects at once and
   * must then miss the cache. Resolves to what failed, one message per command
   * (empty when applied), and how many sessions the kick ended when doveadm says.
   */
  apply(user: string, kick: boolean): Promise<Applied>;
}

export interface Applied {
  errors: string[];
  /**
   * Sessions kicked. Dovecot 2.4 counts them (local: "N connections kicked";
   * HTTP: `{"count": "N"}`); 2.3 only names the users it kicked (local: the
   * list; HTTP: `{"result": "<user>"}`), so it is undefined there unless nobody
   * was kicked (exit 68 / "no users kicked": 0). Undefined without a kick or
   * when the kick failed.
   */
  kicked?: number;
}

/** Dovecot 2.4's `doveadm kick` line, and 2.3's answer when it found nobody. */
const KICKED_COUNT = /^\s*(\d+) connections? kicked/m;
const NOBODY_KICKED = /^\s*no users kicked/m;

const doveadmFailed = (message: string) => new MailpassdError('doveadm_failed', message);

/** `run`: how `local` runs doveadm — the daemon passes its spawner (spawner.ts), a CLI command runs it directly. */
export function createDoveadm(target: DoveadmTarget, timeoutMs: number, run: RunBinary = runBinary): Doveadm {
  switch (target.kind) {
    case 'none':
      return { kind: 'none', flush: async () => undefined, apply: async () => ({ errors: [] }) };
    case 'local':
      return localDoveadm(target.binary, target.configFile, timeoutMs, run);
    case 'http':
      return httpDoveadm(target.url, target.apiKey, timeoutMs);
  }
}

/** Exit status of `doveadm kick` when nobody matched (EX_NOUSER). */
const EX_NOUSER = 68;

/**
 * `doveadm kick` (local and HTTP, 2.3 and 2.4) takes a user MASK: `*` and `?`
 * match other users (verified: kicking `a?c@x` ends `abc@x`'s session) and
 * Dovecot has no escape for them. A name with either is never kicked; the
 * node reports the kick as failed instead. New mailboxes cannot have such
 * names (address.ts); `mailpassd doctor` lists the stored ones. The cache
 * flush matches names exactly (also verified), so it still runs.
 */
const WILDCARD = /[*?]/;
const wildcardRefusal = (user: string) =>
  `doveadm kick: not run, ${JSON.stringify(user)} contains a doveadm wildcard (* or ?) and would end other users' sessions; end its sessions by hand`;

const firstLine = (s: string) => s.trim().split('\n').find((l) => l.trim()) ?? '';

/**
 * 2.3's doveadm also reports to the stats-writer socket (group dovecot, not
 * granted by the shipped snippet) and, run unprivileged, prints
 * "Error: net_connect_unix(…/stats-writer) failed: Permission denied" on every
 * command - the command itself still ran. Judging that line would fail every
 * unprivileged flush and hide the real error of a kick behind it.
 */
const HARMLESS_STDERR = /net_connect_unix\([^)]*\/stats-writer\) failed/;
const relevantStderr = (s: string) => s.split('\n').filter((l) => l.trim() && !HARMLESS_STDERR.test(l)).join('\n');

/**
 * The local binary. Its exit status is not enough: `auth cache flush` that cannot
 * reach auth-master prints "Error: …" and still exits 0, and a 2.3 `kick` that
 * may not signal the session prints an error and exits 68 like "nobody to kick".
 */
export function localDoveadm(binary: string, configFile: string | null, timeoutMs: number, run: RunBinary = runBinary): Doveadm {
  const base = configFile ? ['-c', configFile] : [];
  // `--`: a name starting with `-` would otherwise be read as an option (exit 64).
  const flush = async (user: string) => {
    const r = await run(binary, [...base, 'auth', 'cache', 'flush', '--', user], timeoutMs);
    const stderr = relevantStderr(r.stderr);
    if (r.code !== 0 || /error|fatal|panic/i.test(stderr)) {
      throw doveadmFailed(`doveadm auth cache flush: ${firstLine(stderr) || `exit ${r.code}`}`);
    }
  };
  const kick = async (user: string): Promise<number | undefined> => {
    if (WILDCARD.test(user)) throw doveadmFailed(wildcardRefusal(user));
    const r = await run(binary, [...base, 'kick', '--', user], timeoutMs);
    const stderr = relevantStderr(r.stderr);
    const failed = /error|fatal|panic|failed|not permitted/i.test(stderr);
    if (failed || (r.code !== 0 && r.code !== EX_NOUSER)) throw doveadmFailed(`doveadm kick: ${firstLine(stderr) || `exit ${r.code}`}`);
    const count = KICKED_COUNT.exec(r.stdout)?.[1];
    if (count !== undefined) return Number(count);
    return r.code === EX_NOUSER || NOBODY_KICKED.test(r.stdout) ? 0 : undefined;
  };
  return {
    kind: 'local',
    flush,
    // One process per command: the kick runs only after the flush has returned.
    async apply(user, withKick) {
      const errors: string[] = [];
      await flush(user).catch((err: Error) => errors.push(err.message));
      if (!withKick) return { errors };
      const kicked = await kick(user).catch((err: Error) => void errors.push(err.message));
      return kicked === undefined ? { errors } : { errors, kicked };
    },
  };
}

type DoveadmReply = Array<[string, unknown, string]>;
type Command = [name: string, params: Record<string, unknown>];
/** A command's answer, or why there is none. */
type Outcome = { kind: string; body: unknown } | { error: string };

/** `http://host:port` means the API's one endpoint; Dovecot answers 404 anywhere else. */
export function withApiPath(url: string): string {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/doveadm/v1';
  return u.toString();
}

const FLUSH = (user: string): Command => ['authCacheFlush', { user: [user] }];
// 2.3 needs `mask` as a string (an array kicks nothing); 2.4 accepts both.
const KICK = (user: string): Command => ['kick', { mask: user }];

function flushError(o: Outcome): string | null {
  if ('error' in o) return `doveadm HTTP authCacheFlush: ${o.error}`;
  return o.kind === 'doveadmResponse' ? null : `doveadm HTTP authCacheFlush: ${JSON.stringify(o.body)}`;
}

/** 2.4 answers `[{"count": "N"}]`; 2.3 `[{"result": "<user>"}]` (no count) or exit 68 when nobody was logged in. */
function kickCount(o: Outcome): number | undefined {
  if ('error' in o) return undefined;
  if (o.kind === 'error') return (o.body as { exitCode?: number } | null)?.exitCode === EX_NOUSER ? 0 : undefined;
  const first = Array.isArray(o.body) ? (o.body[0] as { count?: unknown } | undefined) : undefined;
  return typeof first?.count === 'string' && /^\d+$/.test(first.count) ? Number(first.count) : undefined;
}

function kickError(o: Outcome): string | null {
  if ('error' in o) return `doveadm HTTP kick: ${o.error}`;
  if (o.kind === 'doveadmResponse') return null;
  const exitCode = (o.body as { exitCode?: number } | null)?.exitCode;
  if (o.kind === 'error' && exitCode === EX_NOUSER) return null; // nobody to kick
  return `doveadm HTTP kick: ${JSON.stringify(o.body)}`;
}

/**
 * The doveadm HTTP API. A request carries a list of commands that Dovecot runs in
 * order; flush and kick travel together (2.3 forks a doveadm server process per
 * connection, so two requests cost twice). Each command's outcome is read from its
 * own tagged answer: a server that dies part-way (2.4.1's authCacheFlush) leaves
 * the unanswered commands reported as "no answer", never as done.
 */
export function httpDoveadm(baseUrl: string, apiKey: string, timeoutMs: number): Doveadm {
  const url = withApiPath(baseUrl);
  const auth = `X-Dovecot-API ${Buffer.from(apiKey).toString('base64')}`;
  async function call(commands: Command[]): Promise<Outcome[]> {
    const tagged = commands.map(([name, params], i) => [name, params, `c${i + 1}`]);
    const none = (why: string): Outcome[] => commands.map(() => ({ error: why }));
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(tagged),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      return none(`no answer (${cause})`);
    }
    if (res.status !== 200) return none(`status ${res.status}`);
    let reply: DoveadmReply;
    try {
      reply = (await res.json()) as DoveadmReply;
    } catch {
      return none('unreadable answer');
    }
    if (!Array.isArray(reply)) return none('unexpected answer');
    return tagged.map(([, , tag]) => {
      const answer = reply.find((r) => Array.isArray(r) && r[2] === tag);
      return answer ? { kind: String(answer[0]), body: answer[1] } : { error: 'no answer (the server answered the commands before it)' };
    });
  }
  return {
    kind: 'http',
    async flush(user) {
      const [outcome] = await call([FLUSH(user)]);
      const error = flushError(outcome!);
      if (error) throw doveadmFailed(error);
    },
    async apply(user, kick) {
      const refuseKick = kick && WILDCARD.test(user);
      const withKick = kick && !refuseKick;
      const outcomes = await call(withKick ? [FLUSH(user), KICK(user)] : [FLUSH(user)]);
      const errors = [flushError(outcomes[0]!), withKick ? kickError(outcomes[1]!) : refuseKick ? wildcardRefusal(user) : null].filter((e): e is string => e !== null);
      const kicked = withKick && kickError(outcomes[1]!) === null ? kickCount(outcomes[1]!) : undefined;
      return kicked === undefined ? { errors } : { errors, kicked };
    },
  };
}
