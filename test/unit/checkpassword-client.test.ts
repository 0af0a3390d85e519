/**
 * checkpassword's client: the daemon's answer read into the typed union, and
 * what becomes of an answer that is not one. Whatever answers on the auth
 * listener's address is a small node:http server here: a broken answer is
 * exactly what is under test. Anything unreadable must end in 111 (Dovecot
 * retries), never 1 (Dovecot tells the user the password is wrong).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ANSWER_BYTES, lookupUserdb, parseEndpoint, readUserdbAnswer, readVerifyAnswer, verify, type Target } from '../../src/dovecot/checkpassword/client.js';
import { EXIT_TEMPFAIL, afterVerify } from '../../src/dovecot/checkpassword/exit.js';

describe('readVerifyAnswer', () => {
  const read = (status: number, body: unknown) => readVerifyAnswer(status, body, 'asked@example.org');

  it('reads each result of the closed set', () => {
    expect(read(200, { result: 'ok', user: 'alice@example.org', extra: { userdb_uid: '5000' } })).toEqual({
      kind: 'answer',
      answer: { result: 'ok', user: 'alice@example.org', extra: { userdb_uid: '5000' } },
    });
    for (const result of ['password_mismatch', 'user_unknown', 'pass_expired', 'throttled', 'internal_failure'] as const) {
      expect(read(200, { result }), result).toEqual({ kind: 'answer', answer: { result } });
    }
    expect(read(200, { result: 'user_disabled', reason: 'disabled by admin' })).toEqual({ kind: 'answer', answer: { result: 'user_disabled', reason: 'disabled by admin' } });
    expect(read(503, { result: 'internal_failure' })).toEqual({ kind: 'answer', answer: { result: 'internal_failure' } });
  });

  it('an ok without a user is the user asked for; extra fields are strings, numbers and booleans spelled out, others dropped', () => {
    expect(read(200, { result: 'ok', extra: { userdb_uid: 5000, userdb_quota: true, userdb_obj: { a: 1 }, userdb_nil: null } })).toEqual({
      kind: 'answer',
      answer: { result: 'ok', user: 'asked@example.org', extra: { userdb_uid: '5000', userdb_quota: 'true' } },
    });
    expect(read(200, { result: 'ok', user: '', extra: 'not an object' })).toEqual({ kind: 'answer', answer: { result: 'ok', user: 'asked@example.org', extra: {} } });
  });

  it('429 is throttled whatever the body says', () => {
    for (const body of [undefined, null, { result: 'ok' }, 'slow down']) {
      expect(read(429, body)).toEqual({ kind: 'answer', answer: { result: 'throttled' } });
    }
  });

  it('malformed JSON, a body that is not an object, or an unknown result is a failure, not an answer', () => {
    expect(read(200, undefined)).toEqual({ kind: 'failed', why: 'answered HTTP 200 (unparseable)' });
    for (const body of [null, 'ok', 1, ['ok'], { result: ['ok'] }, {}]) expect(read(200, body).kind, JSON.stringify(body)).toBe('failed');
    expect(read(200, { result: 'accepted' })).toEqual({ kind: 'failed', why: 'unknown result "accepted"' });
    expect(read(200, { result: 'x'.repeat(500) })).toEqual({ kind: 'failed', why: `unknown result "${'x'.repeat(63)}` });
  });

  it('a status that does not fit the result is a failure: 401, 5xx other than internal_failure, redirects', () => {
    expect(read(401, { result: 'ok' })).toEqual({ kind: 'failed', why: 'answered 401: auth secret missing or wrong' });
    expect(read(503, { result: 'ok', user: 'alice@example.org' })).toEqual({ kind: 'failed', why: 'answered HTTP 503' });
    expect(read(503, { result: 'password_mismatch' })).toEqual({ kind: 'failed', why: 'answered HTTP 503' });
    expect(read(500, { result: 'internal_failure' })).toEqual({ kind: 'failed', why: 'answered HTTP 500' });
    expect(read(302, { result: 'ok' })).toEqual({ kind: 'failed', why: 'answered HTTP 302' });
  });
});

describe('readUserdbAnswer', () => {
  it('200: the fields without user, the canonical user from the answer (or the one asked for); 404: unknown; else failed', () => {
    expect(readUserdbAnswer(200, { user: 'alice@example.org', home: '/var/vmail/a', uid: 5000 }, 'Alice@Example.org')).toEqual({
      kind: 'found',
      user: 'alice@example.org',
      fields: { home: '/var/vmail/a', uid: '5000' },
    });
    expect(readUserdbAnswer(200, { home: '/h' }, 'bob@example.org')).toEqual({ kind: 'found', user: 'bob@example.org', fields: { home: '/h' } });
    expect(readUserdbAnswer(404, { result: 'user_unknown' }, 'x')).toEqual({ kind: 'unknown' });
    expect(readUserdbAnswer(503, { result: 'internal_failure' }, 'x')).toEqual({ kind: 'failed', why: 'answered HTTP 503 to a userdb lookup' });
    expect(readUserdbAnswer(200, undefined, 'x').kind).toBe('failed');
  });
});

describe('parseEndpoint', () => {
  it('takes http://host:port, host:port, [v6]:port and unix:/path; refuses the rest', () => {
    expect(parseEndpoint('http://127.0.0.1:8081')).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(parseEndpoint('http://localhost')).toEqual({ host: 'localhost', port: 80 });
    expect(parseEndpoint('127.0.0.1:8081')).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(parseEndpoint('[::1]:8081')).toEqual({ host: '::1', port: 8081 });
    expect(parseEndpoint('unix:/run/mailpassd/auth.sock')).toEqual({ socketPath: '/run/mailpassd/auth.sock' });
    for (const bad of ['unix:relative.sock', 'https://127.0.0.1:8081', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'http://[', '']) {
      expect(parseEndpoint(bad), bad).toBeNull();
    }
  });
});

describe('the client against a server that answers badly', () => {
  let server: Server;
  let target: Target;
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  let lastRequest: { method?: string; url?: string; authorization?: string; body: string } | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        lastRequest = { method: req.method, url: req.url, authorization: req.headers.authorization, body };
        handler(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    target = { endpoint: { host: '127.0.0.1', port: (server.address() as AddressInfo).port }, secret: 'wire-secret-0123456789', timeoutMs: 10_000 };
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const answerWith = (status: number, text: string) => {
    handler = (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(text);
    };
  };

  it('posts the request with the bearer secret and reads a good answer', async () => {
    answerWith(200, JSON.stringify({ result: 'password_mismatch' }));
    const outcome = await verify(target, { user: 'alice@example.org', password: 'Wrong-Password-1', service: 'imap' });
    expect(outcome).toEqual({ kind: 'answer', answer: { result: 'password_mismatch' } });
    expect(lastRequest).toEqual({
      method: 'POST',
      url: '/v1/passdb/verify',
      authorization: 'Bearer wire-secret-0123456789',
      body: JSON.stringify({ user: 'alice@example.org', password: 'Wrong-Password-1', service: 'imap' }),
    });
  });

  it('malformed JSON → failed → 111', async () => {
    answerWith(200, '{"result": "ok", ');
    const outcome = await verify(target, { user: 'alice@example.org', password: 'pw' });
    expect(outcome).toEqual({ kind: 'failed', why: 'answered HTTP 200 (unparseable)' });
    expect(afterVerify(outcome, 'http://127.0.0.1', 'alice@example.org')).toMatchObject({ kind: 'exit', code: EXIT_TEMPFAIL });
  });

  it('an unknown result → failed → 111', async () => {
    answerWith(200, JSON.stringify({ result: 'password_mismatch_v2' }));
    const outcome = await verify(target, { user: 'alice@example.org', password: 'pw' });
    expect(outcome.kind).toBe('failed');
    expect(afterVerify(outcome, 'http://127.0.0.1', 'alice@example.org')).toEqual({
      kind: 'exit',
      code: EXIT_TEMPFAIL,
      log: 'auth listener http://127.0.0.1: unknown result "password_mismatch_v2"',
    });
  });

  it('an answer over the size limit → failed → 111, even if it starts like a refusal', async () => {
    answerWith(200, JSON.stringify({ result: 'password_mismatch', pad: 'x'.repeat(MAX_ANSWER_BYTES) }));
    const outcome = await verify(target, { user: 'alice@example.org', password: 'pw' });
    expect(outcome).toEqual({ kind: 'failed', why: 'answer too large' });
    expect(afterVerify(outcome, 'http://127.0.0.1', 'alice@example.org')).toMatchObject({ kind: 'exit', code: EXIT_TEMPFAIL });
  });

  it('no answer within the deadline → failed → 111', async () => {
    handler = () => {}; // keeps the request open
    const outcome = await verify({ ...target, timeoutMs: 200 }, { user: 'alice@example.org', password: 'pw' });
    expect(outcome).toEqual({ kind: 'failed', why: 'no answer within 200 ms' });
    expect(afterVerify(outcome, 'http://127.0.0.1', 'alice@example.org')).toMatchObject({ kind: 'exit', code: EXIT_TEMPFAIL });
  });

  it('nothing listening → failed naming the error → 111', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const outcome = await verify({ ...target, endpoint: { host: '127.0.0.1', port } }, { user: 'alice@example.org', password: 'pw' });
    expect(outcome).toEqual({ kind: 'failed', why: 'ECONNREFUSED' });
  });

  it('a userdb lookup GETs the encoded user and reads the fields', async () => {
    answerWith(200, JSON.stringify({ user: 'alice@example.org', home: '/var/vmail/example.org/alice' }));
    expect(await lookupUserdb(target, 'alice/x@example.org')).toEqual({ kind: 'found', user: 'alice@example.org', fields: { home: '/var/vmail/example.org/alice' } });
    expect(lastRequest).toMatchObject({ method: 'GET', url: '/v1/userdb/alice%2Fx%40example.org' });
  });
});
