/**
 * `mailpassd checkpassword <reply program…>` — Dovecot 2.3's checkpassword
 * passdb/userdb (the driver was removed in 2.4; use the Lua script there).
 *
 * Dovecot forks this program for every login, so it imports node: builtins
 * only and does one HTTP request to the daemon's auth listener:
 *
 *   fd 3  ← `user\0password\0timestamp\0` from Dovecot, then EOF
 *   POST /v1/passdb/verify (or, for lookups, GET /v1/userdb/<user>)
 *   ok   → run the reply program (Dovecot appends it as the last argument,
 *          normally /usr/lib/dovecot/checkpassword-reply) with fds 0–4
 *          inherited and USER, HOME, EXTRA + the EXTRA variables set; it
 *          writes the fields to fd 4. Our exit status is its exit status.
 *
 * Exit status (the checkpassword protocol as Dovecot reads it):
 *   0    authenticated (the reply program's 0)
 *   1    refused: wrong password, unknown or disabled user, throttled,
 *        password expired (the protocol has no separate "expired"), or input
 *        that cannot be a valid request (oversize, truncated)
 *   2    lookup succeeded (AUTHORIZED=1 mode; the reply program's 2)
 *   3    lookup: user unknown
 *   111  temporary failure: the daemon is unreachable, slow, answered 5xx or
 *        something unparseable; fd 3 did not deliver in time. Dovecot answers
 *        the client with a temporary failure, never "wrong password".
 *
 * Lookups without a password: Dovecot sets AUTHORIZED=1 for userdb
 * lookups (`userdb { driver = checkpassword }`) and for passdb lookups
 * that do not authenticate. Those get the userdb fields (prefixed
 * `userdb_`) and AUTHORIZED=2 for the reply program, which then exits 2.
 * Credential lookups (CREDENTIALS_LOOKUP=1: CRAM-MD5 and other
 * non-plaintext mechanisms) cannot be served — mailpassd never hands out
 * hashes — and fail with 111 and a log line naming the cause.
 *
 * Callers must end the process with `process.exit(code)`: after a timeout
 * a read on fd 3 may still be pending and would keep the event loop alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fstatSync, read } from 'node:fs';
import { request, type IncomingMessage, type RequestOptions } from 'node:http';
import { Socket } from 'node:net';

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_LOOKUP_UNKNOWN = 3;
export const EXIT_TEMPFAIL = 111;

/** Longest fd-3 input accepted. Dovecot itself sends at most 512 bytes. */
export const MAX_INPUT_BYTES = 4096;
const DEFAULT_INPUT_TIMEOUT_MS = 5_000;
const DEFAULT_HTTP_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 64 * 1024;

export interface CheckpasswordTarget {
  /** `http://host:port`, `unix:/path`, or a bare `host:port` (MAILPASSD_AUTH_LISTEN form). */
  authUrl: string;
  secret: string | null;
}

type Endpoint = { socketPath: string } | { host: string; port: number };

function log(message: string): void {
  // stderr of a checkpassword child ends up in Dovecot's log. Never a password here.
  process.stderr.write(`mailpassd checkpassword: ${message}\n`);
}

function parseEndpoint(authUrl: string): Endpoint | null {
  if (authUrl.startsWith('unix:')) {
    const socketPath = authUrl.slice('unix:'.length);
    return socketPath.startsWith('/') ? { socketPath } : null;
  }
  let hostPort = authUrl;
  if (authUrl.includes('://')) {
    let url: URL;
    try {
      url = new URL(authUrl);
    } catch {
      return null;
    }
    if (url.protocol !== 'http:') return null;
    hostPort = url.host;
    if (!url.port) hostPort += ':80';
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/.exec(hostPort);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2]!, port };
}

function positiveInt(value: string | undefined, dflt: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : dflt;
}

type InputResult =
  | { kind: 'ok'; user: string; password: string }
  | { kind: 'oversize' }
  | { kind: 'truncated' }
  | { kind: 'timeout' }
  | { kind: 'error'; message: string };

/** Splits `user\0password\0…`; wipes the buffer. */
export function parseInput(all: Buffer): InputResult {
  const first = all.indexOf(0);
  const second = first < 0 ? -1 : all.indexOf(0, first + 1);
  if (first <= 0 || second < 0) {
    all.fill(0);
    return { kind: 'truncated' };
  }
  const user = all.subarray(0, first).toString('utf8');
  const password = all.subarray(first + 1, second).toString('utf8');
  all.fill(0);
  return { kind: 'ok', user, password };
}

/**
 * Reads fd 3 to EOF without closing it (the reply program must inherit it),
 * bounded in size and time.
 *
 * Dovecot hands over a pipe. A pipe or socket is read through libuv's
 * event loop (net.Socket), never with fs.read: a blocking read() parked in
 * the thread pool cannot be cancelled, and Node's exit waits for the pool,
 * so after a timeout the process would never end. The socket is left open
 * (allowHalfOpen, never destroyed) so fd 3 is still there for the reply
 * program. Anything else (a manual `3< file`, `3</dev/null`) is read with
 * fs.read; a regular file cannot block.
 */
export function readInput(fd: number, timeoutMs: number): Promise<InputResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const wipe = (): void => {
      for (const c of chunks) c.fill(0);
    };
    const finish = (r: InputResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      wipe();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    // Returns false once the input is over the limit.
    const take = (chunk: Buffer): boolean => {
      total += chunk.length;
      if (total > MAX_INPUT_BYTES) {
        chunk.fill(0);
        finish({ kind: 'oversize' });
        return false;
      }
      chunks.push(chunk);
      return true;
    };
    const atEof = (): void => finish(parseInput(Buffer.concat(chunks, total)));

    let st;
    try {
      st = fstatSync(fd);
    } catch (e) {
      finish({ kind: 'error', message: `fd ${fd}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      return;
    }
    if (st.isFIFO() || st.isSocket()) {
      const sock = new Socket({ fd, readable: true, writable: false, allowHalfOpen: true });
      sock.on('data', (chunk: Buffer) => {
        if (settled) return;
        // Copy: the stream may hand out views of a pooled buffer.
        if (!take(Buffer.from(chunk))) sock.pause();
        chunk.fill(0);
      });
      sock.on('end', () => {
        if (!settled) atEof();
      });
      sock.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'error', message: `read fd ${fd}: ${e.code ?? e.message}` }));
      return;
    }
    const next = (): void => {
      const buf = Buffer.alloc(1024);
      read(fd, buf, 0, buf.length, null, (err, n) => {
        if (settled) return;
        if (err) return finish({ kind: 'error', message: `read fd ${fd}: ${err.code ?? err.message}` });
        if (n === 0) return atEof();
        if (take(buf.subarray(0, n))) next();
      });
    };
    next();
  });
}

type HttpAnswer = { kind: 'answer'; status: number; body: unknown } | { kind: 'failed'; why: string };

function httpJson(
  endpoint: Endpoint,
  method: 'GET' | 'POST',
  path: string,
  secret: string | null,
  payload: string | null,
  timeoutMs: number,
): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const headers: Record<string, string> = { accept: 'application/json', connection: 'close' };
    if (secret !== null) headers.authorization = `Bearer ${secret}`;
    if (payload !== null) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const options: RequestOptions = { method, path, headers, agent: false, ...endpoint };
    const req = request(options, (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) {
          req.destroy();
          done({ kind: 'failed', why: 'answer too large' });
          return;
        }
        parts.push(c);
      });
      res.on('error', (e) => done({ kind: 'failed', why: e.message }));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let body: unknown;
        try {
          body = text === '' ? null : JSON.parse(text);
        } catch {
          body = undefined; // unparseable: callers treat it as a temporary failure
        }
        done({ kind: 'answer', status: res.statusCode ?? 0, body });
      });
    });
    // One deadline for connect + request + answer.
    const timer = setTimeout(() => {
      req.destroy();
      done({ kind: 'failed', why: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => done({ kind: 'failed', why: e.code ?? e.message }));
    if (payload !== null) req.write(payload);
    req.end();
  });
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Builds USER/HOME/EXTRA for checkpassword-reply from Dovecot field names.
 *
 * Only `userdb_*` fields are passed on. checkpassword-reply hands every name
 * in EXTRA to Dovecot as a passdb field, and passdb fields steer the login
 * itself (`proxy`/`host` send the session elsewhere, `nopassword` skips the
 * check, `allow_nets`, `user` renames it): whatever answers on the auth
 * listener's address must not be able to set those. mailpassd itself sends
 * nothing else (prefetch fields only).
 */
function replyEnv(
  base: NodeJS.ProcessEnv,
  user: string,
  fields: Record<string, string>,
  authorized: boolean,
): NodeJS.ProcessEnv | string {
  const env: NodeJS.ProcessEnv = { USER: user };
  // Our own settings (the auth secret among them) are not the reply program's business.
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('MAILPASSD_') && k !== 'HOME' && k !== 'EXTRA') env[k] = v;
  const extra: string[] = [];
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (!key.startsWith('userdb_')) {
      ignored.push(key);
      continue;
    }
    if (!ENV_NAME.test(key)) return `field name ${JSON.stringify(key)} cannot be passed through the environment`;
    if (value.includes('\0')) return `field ${key} contains NUL`;
    if (key === 'userdb_home') {
      env.HOME = value; // checkpassword-reply turns HOME into userdb_home
      continue;
    }
    env[key] = value;
    extra.push(key);
  }
  if (ignored.length > 0) log(`ignored non-userdb fields in the answer: ${ignored.slice(0, 10).map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}`);
  if (extra.length > 0) env.EXTRA = extra.join(' ');
  if (authorized) env.AUTHORIZED = '2';
  return env;
}

function runReply(replyArgv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const [cmd, ...args] = replyArgv;
    let child: ChildProcess;
    try {
      // fd 3 has been read to EOF but must still be there: the reply program
      // is the checkpassword protocol's "next program", with fds 0-4 as given.
      child = spawn(cmd!, args, { stdio: [0, 1, 2, 3, 4], env });
    } catch (e) {
      log(`cannot run ${cmd}: ${(e as Error).message}`);
      resolve(EXIT_TEMPFAIL);
      return;
    }
    child.on('error', (e: NodeJS.ErrnoException) => {
      log(`cannot run ${cmd}: ${e.code ?? e.message}`);
      resolve(EXIT_TEMPFAIL);
    });
    child.on('exit', (code, signal) => {
      if (signal !== null) {
        log(`${cmd} killed by ${signal}`);
        resolve(EXIT_TEMPFAIL);
      } else {
        resolve(code ?? EXIT_TEMPFAIL);
      }
    });
  });
}

function stringFields(obj: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (obj === null || typeof obj !== 'object') return out;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export async function runCheckpassword(
  replyArgv: string[],
  target: CheckpasswordTarget,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  if (replyArgv.length === 0 || !replyArgv[0]) {
    log('no reply program given (Dovecot appends it: args = mailpassd checkpassword)');
    return EXIT_TEMPFAIL;
  }
  const endpoint = parseEndpoint(target.authUrl);
  if (endpoint === null) {
    log(`auth listener ${JSON.stringify(target.authUrl)} is not http://host:port, host:port or unix:/path`);
    return EXIT_TEMPFAIL;
  }
  const inputTimeout = positiveInt(env.MAILPASSD_CHECKPASSWORD_INPUT_TIMEOUT_MS, DEFAULT_INPUT_TIMEOUT_MS);
  const httpTimeout = positiveInt(env.MAILPASSD_CHECKPASSWORD_TIMEOUT_MS, DEFAULT_HTTP_TIMEOUT_MS);

  const input = await readInput(3, inputTimeout);
  switch (input.kind) {
    case 'ok':
      break;
    case 'oversize':
      log(`input on fd 3 longer than ${MAX_INPUT_BYTES} bytes`);
      return EXIT_REFUSED;
    case 'truncated':
      log('input on fd 3 is not user\\0password\\0');
      return EXIT_REFUSED;
    case 'timeout':
      log(`no complete input on fd 3 within ${inputTimeout} ms`);
      return EXIT_TEMPFAIL;
    case 'error':
      log(input.message);
      return EXIT_TEMPFAIL;
  }

  const lookupOnly = env.AUTHORIZED === '1';
  if (lookupOnly) {
    if (env.CREDENTIALS_LOOKUP === '1') {
      log(
        `credential lookup (scheme ${env.SCHEME ?? '?'}, mechanism ${env.AUTH_MECH ?? '?'}) refused: ` +
          'mailpassd verifies plaintext passwords only; allow only PLAIN/LOGIN (auth_mechanisms)',
      );
      return EXIT_TEMPFAIL;
    }
    return userdbLookup(replyArgv, endpoint, target.secret, input.user, env, httpTimeout);
  }

  const body: Record<string, string> = { user: input.user, password: input.password };
  const service = env.SERVICE || env.AUTH_SERVICE;
  if (service) body.service = service;
  const remoteIp = env.TCPREMOTEIP || env.AUTH_REMOTE_IP;
  if (remoteIp) body.remote_ip = remoteIp;
  const localIp = env.TCPLOCALIP || env.AUTH_LOCAL_IP;
  if (localIp) body.local_ip = localIp;
  if (env.AUTH_SESSION) body.session = env.AUTH_SESSION;

  const answer = await httpJson(endpoint, 'POST', '/v1/passdb/verify', target.secret, JSON.stringify(body), httpTimeout);
  body.password = '';
  if (answer.kind === 'failed') {
    log(`auth listener ${target.authUrl}: ${answer.why}`);
    return EXIT_TEMPFAIL;
  }
  if (answer.status === 429) return EXIT_REFUSED; // throttled: like a wrong password
  if (answer.status !== 200 || !isObject(answer.body)) {
    log(
      answer.status === 401
        ? 'auth listener answered 401: auth secret missing or wrong'
        : `auth listener answered HTTP ${answer.status}${answer.body === undefined ? ' (unparseable)' : ''}`,
    );
    return EXIT_TEMPFAIL;
  }
  const result = answer.body.result;
  switch (result) {
    case 'ok': {
      const user = typeof answer.body.user === 'string' && answer.body.user !== '' ? answer.body.user : input.user;
      const renv = replyEnv(env, user, stringFields(answer.body.extra), false);
      if (typeof renv === 'string') {
        log(renv);
        return EXIT_TEMPFAIL;
      }
      return runReply(replyArgv, renv);
    }
    case 'password_mismatch':
    case 'user_unknown':
    case 'user_disabled':
    case 'throttled':
      return EXIT_REFUSED;
    case 'pass_expired':
      // checkpassword cannot say "expired"; the client sees a failed login.
      log(`password of ${input.user} has expired`);
      return EXIT_REFUSED;
    default:
      if (result !== 'internal_failure') log(`unknown result ${JSON.stringify(result)}`);
      return EXIT_TEMPFAIL;
  }
}

async function userdbLookup(
  replyArgv: string[],
  endpoint: Endpoint,
  secret: string | null,
  user: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<number> {
  const answer = await httpJson(endpoint, 'GET', `/v1/userdb/${encodeURIComponent(user)}`, secret, null, timeoutMs);
  if (answer.kind === 'failed') {
    log(`auth listener: ${answer.why}`);
    return EXIT_TEMPFAIL;
  }
  if (answer.status === 404) return EXIT_LOOKUP_UNKNOWN;
  if (answer.status !== 200 || !isObject(answer.body)) {
    log(`auth listener answered HTTP ${answer.status} to a userdb lookup`);
    return EXIT_TEMPFAIL;
  }
  const fields = stringFields(answer.body);
  const canonical = fields.user || user;
  const prefixed: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (k !== 'user') prefixed[`userdb_${k}`] = v;
  const renv = replyEnv(env, canonical, prefixed, true);
  if (typeof renv === 'string') {
    log(renv);
    return EXIT_TEMPFAIL;
  }
  return runReply(replyArgv, renv);
}
