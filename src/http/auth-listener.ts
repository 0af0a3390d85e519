import { isIP } from 'node:net';
import { Type, type Static } from '@sinclair/typebox';
import type { Context } from '../core/context.js';
import type { Authenticator } from '../auth/verify.js';
import { canonicalUser } from '../auth/verify.js';
import { getAuthRow } from '../store/sql/mailboxes.js';
import { userdbFields } from '../auth/userdb.js';
import { MAX_PASSWORD_BYTES } from '../policy/password-input.js';
import { createApp, type App } from './server.js';
import { sendProblem } from './problem.js';
import { secretMatches } from './bearer-secret.js';
import { USERDB_PATH, VERIFY_PATH, VERIFY_RESULTS, verifyAnswerFor, type VerifyResultName } from '../core/auth-wire.js';
import { registerHealth } from './health.js';

/** No control characters in names: they would corrupt logs and Dovecot's tab-separated protocol. */
const Name = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });
const OptName = (max: number) => Type.Optional(Name(max));

export const VerifyBody = Type.Object(
  {
    user: Name(320),
    password: Type.String({ maxLength: MAX_PASSWORD_BYTES }),
    service: OptName(64),
    remote_ip: OptName(64),
    /** Dovecot's real_remote_ip: the webmail host itself when it forwards its user's address. */
    real_remote_ip: OptName(64),
    local_ip: OptName(64),
    session: OptName(256),
  },
  { additionalProperties: false },
);
type VerifyBody = Static<typeof VerifyBody>;

// type string + enum: serialised as a plain string on the hot path, documented as the closed set.
const ResultBody = Type.Object({
  result: Type.Unsafe<VerifyResultName>({ type: 'string', enum: [...VERIFY_RESULTS] }),
  user: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  extra: Type.Optional(Type.Record(Type.String(), Type.String())),
});

/** The auth listener: only Dovecot (Lua or checkpassword) talks to it. */
export function buildAuthListener(ctx: Context, auth: Authenticator): App {
  const log = ctx.log.child({ listener: 'auth' });
  const app = createApp(log, { bodyLimit: 8 * 1024, timeoutMs: ctx.config.http_timeout_ms });
  const secret = ctx.config.derived.auth_secret;
  if (secret) {
    app.addHook('onRequest', async (req, reply) => {
      if (req.url === '/healthz' || req.url === '/readyz') return;
      if (!secretMatches(req.headers.authorization, secret)) return sendProblem(reply, 'unauthorized', 'missing or wrong auth secret');
    });
  }
  registerHealth(app, ctx);

  app.post<{ Body: VerifyBody }>(
    VERIFY_PATH,
    { schema: { body: VerifyBody, response: { 200: ResultBody, 429: ResultBody, 503: ResultBody } } },
    async (req, reply) => {
      const b = req.body;
      if (Buffer.byteLength(b.password) > MAX_PASSWORD_BYTES) return sendProblem(reply, 'password_too_long', `password exceeds ${MAX_PASSWORD_BYTES} bytes`, {}, 'usage');
      // The throttle keys on it: free text would give every request a fresh bucket.
      if (b.remote_ip !== undefined && isIP(b.remote_ip.replace(/%[^%]+$/, '')) === 0) return sendProblem(reply, 'invalid_remote_ip', 'remote_ip must be an IPv4 or IPv6 address');
      if (b.real_remote_ip !== undefined && isIP(b.real_remote_ip.replace(/%[^%]+$/, '')) === 0) return sendProblem(reply, 'invalid_remote_ip', 'real_remote_ip must be an IPv4 or IPv6 address');
      const result = await auth.verify({
        user: b.user,
        password: b.password,
        service: b.service ?? 'unknown',
        remoteIp: b.remote_ip ?? null,
        realRemoteIp: b.real_remote_ip ?? null,
        localIp: b.local_ip ?? null,
        session: b.session ?? null,
      });
      // Successes are Dovecot's to log; refusals and failures are worth a line at info.
      const level = result.kind === 'ok' ? 'debug' : 'info';
      if (log.isLevelEnabled(level)) req.log[level]({ user: canonicalUser(b.user), service: b.service, remote_ip: b.remote_ip, session: b.session, result: result.kind }, 'passdb verify');
      const { status, body } = verifyAnswerFor(result);
      return reply.code(status).send(body);
    },
  );

  app.get<{ Params: { user: string } }>(
    `${USERDB_PATH}:user`,
    { schema: { params: Type.Object({ user: Name(320) }) } },
    async (req, reply) => {
      let row;
      try {
        row = await getAuthRow(ctx.pool, canonicalUser(req.params.user));
      } catch (err) {
        req.log.warn({ err: (err as Error).message }, 'userdb lookup failed');
        return reply.code(503).send({ result: 'internal_failure' });
      }
      if (!row) return reply.code(404).send({ result: 'user_unknown' });
      return reply.send({ user: row.address, ...userdbFields(row, ctx.config.userdb) });
    },
  );
  return app;
}
