/**
 * checkpassword's side of the auth listener: one request per process, on
 * node:http alone (Dovecot forks checkpassword for every login, so start-up
 * time is paid per login), and the answer read into the typed union of
 * core/auth-wire.ts. Anything that is not a well-formed answer is `failed`:
 * the caller turns that into a temporary failure, never a refusal.
 */
import { request, type IncomingMessage, type RequestOptions } from 'node:http';
import { USERDB_PATH, VERIFY_PATH, VERIFY_STATUS, isVerifyResultName, type VerifyAnswer, type VerifyRequest } from '../../core/auth-wire.js';

/** Largest answer read; the daemon's are a few hundred bytes. */
export const MAX_ANSWER_BYTES = 64 * 1024;

export type Endpoint = { socketPath: string } | { host: string; port: number };

export type VerifyOutcome = { kind: 'answer'; answer: VerifyAnswer } | { kind: 'failed'; why: string };

export type UserdbOutcome =
  /** user: the canonical address; fields: the userdb fields as named on the wire (`home`, `uid`, …), without `user`. */
  | { kind: 'found'; user: string; fields: Record<string, string> }
  | { kind: 'unknown' }
  | { kind: 'failed'; why: string };

/** `http://host:port`, `unix:/path` or a bare `host:port` (the MAILPASSD_AUTH_LISTEN form); null if it is none of them. */
export function parseEndpoint(authUrl: string): Endpoint | null {
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

/** What came back over HTTP, before it is read as an answer. body: undefined when it was not JSON. */
export type HttpAnswer = { kind: 'answer'; status: number; body: unknown } | { kind: 'failed'; why: string };

export interface Target {
  endpoint: Endpoint;
  secret: string | null;
  /** One deadline for connect + request + answer. */
  timeoutMs: number;
}

export async function verify(target: Target, req: VerifyRequest): Promise<VerifyOutcome> {
  const payload = JSON.stringify(req);
  const http = await httpJson(target, 'POST', VERIFY_PATH, payload);
  return http.kind === 'failed' ? http : readVerifyAnswer(http.status, http.body, req.user);
}

export async function lookupUserdb(target: Target, user: string): Promise<UserdbOutcome> {
  const http = await httpJson(target, 'GET', `${USERDB_PATH}${encodeURIComponent(user)}`, null);
  return http.kind === 'failed' ? http : readUserdbAnswer(http.status, http.body, user);
}

/**
 * The verify answer as the typed union. A 429 is `throttled` whatever its
 * body (a proxy in front may answer it too). A 200 carries any result, a 503
 * only `internal_failure` (VERIFY_STATUS); any other status, a body that is
 * not a JSON object, or a result outside the closed set is `failed`.
 * requestedUser stands in for an `ok` without a user.
 */
export function readVerifyAnswer(status: number, body: unknown, requestedUser: string): VerifyOutcome {
  if (status === 429) return { kind: 'answer', answer: { result: 'throttled' } };
  if (status === 401) return { kind: 'failed', why: 'answered 401: auth secret missing or wrong' };
  const unexpected: VerifyOutcome = { kind: 'failed', why: `answered HTTP ${status}${body === undefined ? ' (unparseable)' : ''}` };
  if ((status !== 200 && status !== 503) || !isObject(body)) return unexpected;
  const result = body.result;
  if (!isVerifyResultName(result)) return status === 200 ? { kind: 'failed', why: `unknown result ${String(JSON.stringify(result)).slice(0, 64)}` } : unexpected;
  if (status !== 200 && status !== VERIFY_STATUS[result]) return unexpected;
  switch (result) {
    case 'ok': {
      const user = typeof body.user === 'string' && body.user !== '' ? body.user : requestedUser;
      return { kind: 'answer', answer: { result, user, extra: stringFields(body.extra) } };
    }
    case 'user_disabled':
      return { kind: 'answer', answer: { result, reason: typeof body.reason === 'string' ? body.reason : '' } };
    case 'password_mismatch':
    case 'user_unknown':
    case 'pass_expired':
    case 'internal_failure':
    case 'throttled':
      return { kind: 'answer', answer: { result } };
  }
}

/** The userdb answer: 200 with the fields, 404 unknown, anything else `failed`. */
export function readUserdbAnswer(status: number, body: unknown, requestedUser: string): UserdbOutcome {
  if (status === 404) return { kind: 'unknown' };
  if (status !== 200 || !isObject(body)) return { kind: 'failed', why: `answered HTTP ${status} to a userdb lookup` };
  const { user, ...fields } = stringFields(body);
  return { kind: 'found', user: user || requestedUser, fields };
}

/** Dovecot fields are strings; numbers and booleans are spelled out, anything else is dropped. */
function stringFields(obj: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(obj)) return out;
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function httpJson(target: Target, method: 'GET' | 'POST', path: string, payload: string | null): Promise<HttpAnswer> {
  const { endpoint, secret, timeoutMs } = target;
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
          body = undefined;
        }
        done({ kind: 'answer', status: res.statusCode ?? 0, body });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ kind: 'failed', why: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => done({ kind: 'failed', why: e.code ?? e.message }));
    if (payload !== null) req.write(payload);
    req.end();
  });
}
