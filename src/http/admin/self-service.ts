import type { Static } from '@sinclair/typebox';
import type { Context } from '../../context.js';
import { MailpassdError } from '../../errors.js';
import { canonicalUser } from '../../auth/verify.js';
import { rotateAndWait } from '../../rotation/service.js';
import type { App } from '../server.js';
import type { AdminDeps } from './deps.js';
import { sendProblem } from '../problem.js';
import { SelfServiceBody } from './schemas.js';

/**
 * The mailbox owner's own change, shaped for Roundcube's password plugin
 * `httpapi` driver: form-encoded (or JSON) `user`, `curpass`, `newpass`; success
 * is a 2xx whose body is `ok`. The current password is the credential and goes
 * through the same verifier as a login, throttle included.
 */
export function registerSelfServiceRoutes(app: App, ctx: Context, deps: AdminDeps): void {
  void app.register(async (own) => {
    // This is the one route fed by HTML forms; its own strict parser (see parseStrictForm).
    own.addContentTypeParser(FORM, { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
      try {
        done(null, parseStrictForm(body));
      } catch (err) {
        done(err as Error);
      }
    });
    registerSelfServiceRoute(own, ctx, deps);
  });
}

const FORM = 'application/x-www-form-urlencoded';
const utf8 = new TextDecoder('utf-8', { fatal: true });
const badRequest = (code: string, message: string) => Object.assign(new Error(message), { statusCode: 400, code });

/**
 * The generic form parser decodes raw non-UTF-8 bytes to U+FFFD and keeps a bad
 * escape such as Latin-1 `%E9` as the literal text "%E9" — either way the new
 * password would silently differ from what the user typed. Refuse instead, as
 * the JSON parser does. A repeated field becomes an array, which the schema refuses.
 */
export function parseStrictForm(body: Buffer): Record<string, string | string[]> {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw badRequest('invalid_utf8', 'body is not valid UTF-8');
  }
  const fields: Record<string, string | string[]> = Object.create(null);
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decodeFormComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = decodeFormComponent(eq < 0 ? '' : pair.slice(eq + 1));
    const seen = fields[key];
    fields[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return fields;
}

function decodeFormComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw badRequest('invalid_form', 'body is not valid form encoding (bad %-escape or not UTF-8)');
  }
}

function registerSelfServiceRoute(app: App, ctx: Context, deps: AdminDeps): void {
  app.post<{ Body: Static<typeof SelfServiceBody> }>(
    '/v1/self-service/password',
    { schema: { tags: ['self-service'], security: [], body: SelfServiceBody } },
    async (req, reply) => {
      const { user, curpass, newpass } = req.body;
      const check = await deps.authenticator.verify({
        user,
        password: curpass,
        service: 'self-service',
        remoteIp: req.ip ?? null,
        localIp: null,
        session: null,
      });
      switch (check.kind) {
        case 'ok':
        case 'pass_expired': // an expired password may still be used to choose a new one
          break;
        case 'throttled':
          return sendProblem(reply, 429, 'throttled', 'too many failed attempts; try again later');
        case 'internal_failure':
          return sendProblem(reply, 503, 'temporarily_unavailable', 'cannot check the current password now; try again');
        case 'password_mismatch':
        case 'user_unknown':
        case 'user_disabled':
          return sendProblem(reply, 403, 'wrong_current_password', 'the current password is not correct');
      }
      const address = canonicalUser(user);
      try {
        await rotateAndWait(ctx, deps.metrics, { actor: `self:${address}`, sourceIp: req.ip ?? null }, {
          address,
          password: { kind: 'given', value: newpass },
          kick: true,
          reason: 'self_service',
          waitMs: Math.min(ctx.config.rotation.waitMs, 2_000),
        });
      } catch (err) {
        // A refused password is the user's to fix: 422 with the rules, in the body Roundcube shows.
        if (err instanceof MailpassdError && err.kind === 'refused') return sendProblem(reply, 422, err.code, err.message, err.details);
        throw err;
      }
      return reply.code(200).type('text/plain; charset=utf-8').send('ok');
    },
  );
}
