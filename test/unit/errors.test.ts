import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { errorCodes } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ERRORS, exitCodeFor, httpStatusOf, KINDS, kindOf, MailpassdError, type ErrorCode, type ErrorKind } from '../../src/core/errors.js';
import { frameworkCode } from '../../src/http/problem.js';
import { createApp } from '../../src/http/server.js';
import { createLogger } from '../../src/observability/logger.js';

const SRC = path.join(import.meta.dirname, '../../src');
const codes = Object.keys(ERRORS) as ErrorCode[];
const kindsOf = (code: ErrorCode): readonly ErrorKind[] => {
  const entry: ErrorKind | readonly ErrorKind[] = ERRORS[code];
  return typeof entry === 'string' ? [entry] : entry;
};

function sources(dir: string): Array<{ file: string; text: string }> {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: path.join('src', f), text: readFileSync(path.join(dir, f), 'utf8') }));
}

describe('the error table (src/core/errors.ts)', () => {
  it('every kind has an HTTP error status and one of the CONTRACT exit statuses', () => {
    for (const [kind, { status, exit }] of Object.entries(KINDS)) {
      expect(status, kind).toBeGreaterThanOrEqual(400);
      expect(status, kind).toBeLessThan(600);
      expect([1, 64, 69, 70, 78], kind).toContain(exit);
    }
  });

  it('keeps the CONTRACT exit statuses and the statuses clients already see', () => {
    expect(Object.fromEntries(Object.keys(KINDS).map((k) => [k, [httpStatusOf(k as ErrorKind), exitCodeFor(k as ErrorKind)]]))).toEqual({
      usage: [400, 64],
      unauthorized: [401, 1],
      forbidden: [403, 1],
      not_found: [404, 1],
      conflict: [409, 1],
      too_large: [413, 64],
      uri_too_long: [414, 64],
      unsupported_media_type: [415, 64],
      refused: [422, 1],
      throttled: [429, 1],
      unavailable: [503, 69],
      config: [500, 78],
      internal: [500, 70],
    });
  });

  it('codes are snake_case and name known kinds; only password_too_long has two', () => {
    for (const code of codes) {
      expect(code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      for (const kind of kindsOf(code)) expect(Object.keys(KINDS), code).toContain(kind);
    }
    expect(codes.filter((c) => kindsOf(c).length > 1)).toEqual(['password_too_long']);
    expect(kindOf('password_too_long')).toBe('refused');
  });

  it('lists no code twice (a later key would silently win)', () => {
    const text = readFileSync(path.join(SRC, 'core', 'errors.ts'), 'utf8');
    const block = text.slice(text.indexOf('export const ERRORS'), text.indexOf('} as const satisfies Record<string, ErrorKind |'));
    const keys = [...block.matchAll(/^ {2}([a-z0-9_]+):/gm)].map((m) => m[1]);
    expect(keys.length).toBe(codes.length);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('a thrown error takes its kind from the table', () => {
    const err = new MailpassdError('mailbox_not_found', 'no such mailbox');
    expect(err).toMatchObject({ code: 'mailbox_not_found', kind: 'not_found', statusCode: 404 });
  });
});

describe('codes in src/ come from the table', () => {
  const files = sources(SRC);

  it('no cast around the ErrorCode and ErrorKind parameters', () => {
    const casts = files.flatMap(({ file, text }) => [...text.matchAll(/\bas (ErrorCode|ErrorKind|CodeOf<|KindsOf<)/g)].map((m) => `${file}: ${m[0]}`));
    expect(casts).toEqual([]);
  });

  it('every literal code passed to sendProblem, MailpassdError and the kind helpers is in the table', () => {
    const call = /\b(?:sendProblem\(reply, |new (?:MailpassdError|ConfigError)\(|(?:notFound|conflict|refused|usage|unavailable|internal)\()\s*'([^']+)'/g;
    const found = files.flatMap(({ file, text }) => [...text.matchAll(call)].map((m) => ({ file, code: m[1]! })));
    expect(found.length).toBeGreaterThan(50);
    expect(found.filter(({ code }) => !Object.hasOwn(ERRORS, code))).toEqual([]);
  });

  it('no hand-built error carries its own status or code', () => {
    const adHoc = files.filter(({ file }) => file !== path.join('src', 'core', 'errors.ts')).flatMap(({ file, text }) =>
      [...text.matchAll(/Object\.assign\(new Error|readonly code = '|extends Error\b/g)].map((m) => `${file}: ${m[0]}`),
    );
    // PolicyOverrideError stays a policy-internal error: accounts/domains.ts turns it into `refused`.
    expect(adHoc).toEqual(['src/policy/settings.ts: extends Error', "src/policy/settings.ts: readonly code = '"]);
  });
});

describe('fastify errors in our vocabulary', () => {
  it('each client error fastify raises keeps its status under our code', () => {
    for (const [name, Err] of Object.entries(errorCodes)) {
      const err = new (Err as new (...a: string[]) => { code: string; statusCode?: number })('a', 'b', 'c');
      if (!err.statusCode || err.statusCode < 400 || err.statusCode >= 500) continue;
      const code = frameworkCode(err.code);
      expect(httpStatusOf(kindOf(code)), `${name} → ${code}`).toBe(err.statusCode);
    }
    expect(frameworkCode('FST_ERR_CTP_BODY_TOO_LARGE')).toBe('body_too_large');
    expect(frameworkCode(undefined)).toBe('bad_request');
    expect(frameworkCode('__proto__')).toBe('bad_request');
  });

  it('the error handler answers a typed error with its status and code, an internal one without its text', async () => {
    const app = createApp(createLogger('silent'), { bodyLimit: 1024, timeoutMs: 5_000 });
    app.get('/refused', async () => {
      throw new MailpassdError('policy_refused', 'password refused', { violations: [] });
    });
    app.get('/internal', async () => {
      throw new MailpassdError('password_generation_failed', 'secret internals');
    });
    const refused = await app.inject({ method: 'GET', url: '/refused' });
    expect(refused.statusCode).toBe(422);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({ type: 'urn:mailpassd:error:policy_refused', status: 422, code: 'policy_refused', detail: 'password refused', violations: [] });
    const internal = await app.inject({ method: 'GET', url: '/internal' });
    expect(internal.statusCode).toBe(500);
    expect(internal.json()).toMatchObject({ code: 'internal_error', detail: 'internal error' });
    expect(internal.body).not.toContain('secret internals');
    const invalid = await app.inject({ method: 'POST', url: '/refused', headers: { 'content-type': 'application/json' }, payload: '{' });
    expect(invalid.json()).toMatchObject({ status: 400, code: 'invalid_json' });
    await app.close();
  });
});
