import type { FastifyError, FastifyInstance, FastifyReply, preValidationAsyncHookHandler } from 'fastify';
import { httpStatusOf, kindOf, MailpassdError, type ErrorCode, type KindsOf } from '../core/errors.js';
import { isDatabaseUnavailable } from '../store/pool.js';

/** RFC 9457 problem details with a stable `code`, the one error shape of both listeners. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  [extra: string]: unknown;
}

/**
 * The one way an error reaches an HTTP client: `code` from the table in
 * src/errors.ts, the status from its kind. `kind` only for a code the table
 * gives more than one kind.
 */
export function sendProblem<C extends ErrorCode>(reply: FastifyReply, code: C, detail: string, extra: Record<string, unknown> = {}, kind?: KindsOf<C>) {
  const status = httpStatusOf(kind ?? kindOf(code));
  const body: Problem = { type: `urn:mailpassd:error:${code}`, title: titleOf(status), status, code, detail, ...extra };
  return reply.code(status).type('application/problem+json').send(body);
}

function titleOf(status: number): string {
  return (
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 413: 'Payload Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type', 422: 'Unprocessable Content', 429: 'Too Many Requests', 503: 'Service Unavailable' }[status] ??
    'Error'
  );
}

/** fastify's own error codes, renamed so clients see one stable vocabulary; each keeps fastify's status. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'empty_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INSTANCE_ALREADY_STARTED: 'bad_request',
  FST_ERR_BAD_URL: 'invalid_path',
  FST_ERR_MAX_PARAM_LENGTH: 'path_too_long',
  FST_ERR_NOT_FOUND: 'route_not_found',
};

/** A client error raised by fastify itself (not by our code, which throws MailpassdError), as one of our codes. */
export function frameworkCode(code: string | undefined): ErrorCode {
  return (code !== undefined && Object.hasOwn(FASTIFY_CODES, code) && FASTIFY_CODES[code]) || 'bad_request';
}

/** What was wrong with the request, naming the field; ajv's own text does not name an unknown one. */
function validationDetail(err: FastifyError): string {
  const where = err.validationContext ?? 'request';
  const [only, ...more] = err.validation ?? [];
  const unknown = (only?.params as { additionalProperty?: unknown } | undefined)?.additionalProperty;
  if (only?.keyword === 'additionalProperties' && more.length === 0 && typeof unknown === 'string') {
    const name = unknown.length > 64 ? `${unknown.slice(0, 64)}…` : unknown;
    return `${where}${only.instancePath} has an unknown field ${JSON.stringify(name)}`;
  }
  return `${where}${err.message.replace(/^(body|params|querystring|headers)/, '')}`;
}

/** Validation failures, oversize bodies, bad JSON → 4xx with a reason; our typed errors → their status; the rest → 500 without internals. */
export function installErrorHandler(app: FastifyInstance, beforeNotFound?: preValidationAsyncHookHandler): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    // An internal error is a bug: its text is for the log, not for the client.
    if (err instanceof MailpassdError && err.kind !== 'internal') return sendProblem(reply, err.code, err.message, err.details);
    if (err.validation) return sendProblem(reply, 'invalid_request', validationDetail(err));
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return sendProblem(reply, frameworkCode(err.code), err.message);
    }
    if (isDatabaseUnavailable(err)) return sendProblem(reply, 'database_unavailable', 'the database is unavailable; try again');
    req.log.error({ err: { message: err.message, code: err.code, stack: err.stack } }, 'unhandled error');
    return sendProblem(reply, 'internal_error', 'internal error');
  });
  app.setNotFoundHandler({ ...(beforeNotFound && { preValidation: beforeNotFound }) }, (req, reply) =>
    sendProblem(reply, 'route_not_found', `no route ${req.method} ${req.url.split('?')[0]}`),
  );
}
