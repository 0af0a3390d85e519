import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type preValidationAsyncHookHandler } from 'fastify';
import type { Listen } from '../config/index.js';
import { formatListen } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import { MailpassdError } from '../core/errors.js';
import { frameworkCode, installErrorHandler, sendProblem } from './problem.js';

export type App = FastifyInstance;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A fastify instance with strict validation (no coercion, no silent removal of
 * unknown fields), a JSON parser that refuses non-UTF-8, timeouts against slow
 * clients, and problem+json errors.
 */
export function createApp(
  log: Logger,
  opts: { bodyLimit: number; timeoutMs: number; longestWaitMs?: number; /** Runs before the 404 answer; may answer instead. */ beforeNotFound?: preValidationAsyncHookHandler },
): App {
  const app = Fastify({
    loggerInstance: log as unknown as FastifyBaseLogger,
    // No per-request child logger: nothing we log needs the request id, and a pino
    // child per request is measurable on the login path.
    childLoggerFactory: (logger) => logger,
    bodyLimit: opts.bodyLimit,
    // Slow clients (slowloris) are cut off: headers and body must arrive within
    // timeoutMs. Node's headersTimeout/requestTimeout bound only the receiving of
    // the request, so they stay short.
    http: { headersTimeout: opts.timeoutMs, requestTimeout: opts.timeoutMs, connectionsCheckingInterval: Math.min(1000, opts.timeoutMs / 2) },
    requestTimeout: opts.timeoutMs,
    // The socket inactivity timeout also runs while WE are silent, composing an
    // answer: a rotation may wait up to wait_ms (120 s) for its nodes, so it must
    // outlast the longest wait, or the caller gets "socket hang up" instead of
    // the per-node answer. An idle client is still cut off by the timeouts above
    // (before its request is in) and keepAliveTimeout (between requests).
    connectionTimeout: opts.timeoutMs + (opts.longestWaitMs ?? 0),
    keepAliveTimeout: 30_000,
    // Per-request lines are written by our routes (without secrets), not by fastify.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
    routerOptions: { maxParamLength: 500 },
    // Errors raised before routing (bad URL, over-long path parameter) get the same problem+json shape.
    frameworkErrors: (err, _req, reply) => {
      void sendProblem(reply, frameworkCode((err as { code?: string }).code), err.message);
    },
  });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      return done(new MailpassdError('invalid_utf8', 'body is not valid UTF-8'));
    }
    try {
      done(null, text.length === 0 ? undefined : JSON.parse(text));
    } catch {
      done(new MailpassdError('invalid_json', 'body is not valid JSON'));
    }
  });
  installErrorHandler(app, opts.beforeNotFound);
  return app;
}

async function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Listens on host:port or a UNIX socket given `socketMode`; a live socket or busy port is a clear error, a stale socket file is replaced. */
export async function listen(app: App, where: Listen, socketMode: number, name: string): Promise<void> {
  if (where.kind === 'unix') {
    if (existsSync(where.path)) {
      if (await socketInUse(where.path)) throw new MailpassdError('listen_in_use', `${name} listener ${formatListen(where)} is in use by another process`);
      if (lstatSync(where.path).isSocket()) unlinkSync(where.path);
    }
    await app.listen({ path: where.path });
    chmodSync(where.path, socketMode);
    return;
  }
  try {
    await app.listen({ host: where.host, port: where.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new MailpassdError('listen_in_use', `${name} listener ${formatListen(where)}: address already in use`);
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new MailpassdError('listen_failed', `${name} listener ${formatListen(where)}: ${code}`);
    throw err;
  }
}

