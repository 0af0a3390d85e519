import { execFile } from 'node:child_process';
import type { DoveadmTarget } from '../config/index.js';

/** How this node reaches its Dovecot to make a change take effect: flush the auth cache, kick sessions. */
export interface Doveadm {
  readonly kind: DoveadmTarget['kind'];
  flush(user: string): Promise<void>;
  kick(user: string): Promise<void>;
}

export class DoveadmError extends Error {
  readonly code = 'doveadm_failed';
}

export function createDoveadm(target: DoveadmTarget, timeoutMs: number): Doveadm {
  switch (target.kind) {
    case 'none':
      return { kind: 'none', flush: async () => undefined, kick: async () => undefined };
    case 'local':
      return localDoveadm(target.binary, target.configFile, timeoutMs);
    case 'http':
      return httpDoveadm(target.url, target.apiKey, timeoutMs);
  }
}

/** Exit status of `doveadm kick` when nobody matched (EX_NOUSER). */
const EX_NOUSER = 68;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runDoveadm(binary: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      if (e && typeof e.code === 'string') resolve({ code: -1, stdout, stderr: `${stderr}${e.code === 'ENOENT' ? `${binary} not found` : e.message}` });
      else if (e?.killed) resolve({ code: -1, stdout, stderr: `${stderr}timed out after ${timeoutMs} ms` });
      else resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr });
    });
  });
}

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
export function localDoveadm(binary: string, configFile: string | null, timeoutMs: number): Doveadm {
  const base = configFile ? ['-c', configFile] : [];
  return {
    kind: 'local',
    async flush(user) {
      const r = await runDoveadm(binary, [...base, 'auth', 'cache', 'flush', user], timeoutMs);
      const stderr = relevantStderr(r.stderr);
      if (r.code !== 0 || /error|fatal|panic/i.test(stderr)) {
        throw new DoveadmError(`doveadm auth cache flush: ${firstLine(stderr) || `exit ${r.code}`}`);
      }
    },
    async kick(user) {
      const r = await runDoveadm(binary, [...base, 'kick', user], timeoutMs);
      const stderr = relevantStderr(r.stderr);
      const failed = /error|fatal|panic|failed|not permitted/i.test(stderr);
      if (!failed && (r.code === 0 || r.code === EX_NOUSER)) return;
      throw new DoveadmError(`doveadm kick: ${firstLine(stderr) || `exit ${r.code}`}`);
    },
  };
}

type DoveadmReply = Array<[string, unknown, string]>;

/** `http://host:port` means the API's one endpoint; Dovecot answers 404 anywhere else. */
export function withApiPath(url: string): string {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/doveadm/v1';
  return u.toString();
}

/**
 * The doveadm HTTP API. Each command goes in its own request, so a server that
 * dies on one (2.4.1's authCacheFlush) cannot hide the other's outcome.
 */
export function httpDoveadm(baseUrl: string, apiKey: string, timeoutMs: number): Doveadm {
  const url = withApiPath(baseUrl);
  const auth = `X-Dovecot-API ${Buffer.from(apiKey).toString('base64')}`;
  async function call(command: string, params: Record<string, unknown>): Promise<{ kind: string; body: unknown }> {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify([[command, params, 'c1']]),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new DoveadmError(`doveadm HTTP ${command}: no answer (${cause})`);
    }
    if (res.status !== 200) throw new DoveadmError(`doveadm HTTP ${command}: status ${res.status}`);
    let reply: DoveadmReply;
    try {
      reply = (await res.json()) as DoveadmReply;
    } catch {
      throw new DoveadmError(`doveadm HTTP ${command}: unreadable answer`);
    }
    const first = Array.isArray(reply) ? reply[0] : undefined;
    if (!Array.isArray(first)) throw new DoveadmError(`doveadm HTTP ${command}: unexpected answer`);
    return { kind: String(first[0]), body: first[1] };
  }
  return {
    kind: 'http',
    async flush(user) {
      const r = await call('authCacheFlush', { user: [user] });
      if (r.kind !== 'doveadmResponse') throw new DoveadmError(`doveadm HTTP authCacheFlush: ${JSON.stringify(r.body)}`);
    },
    async kick(user) {
      // 2.3 needs `mask` as a string (an array kicks nothing); 2.4 accepts both.
      const r = await call('kick', { mask: user });
      if (r.kind === 'doveadmResponse') return;
      const exitCode = (r.body as { exitCode?: number } | null)?.exitCode;
      if (r.kind === 'error' && exitCode === EX_NOUSER) return;
      throw new DoveadmError(`doveadm HTTP kick: ${JSON.stringify(r.body)}`);
    },
  };
}
