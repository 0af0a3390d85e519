/**
 * `mailpassd checkpassword <reply program…>` — Dovecot 2.3's checkpassword
 * passdb/userdb (the driver was removed in 2.4; use the Lua script there).
 *
 * Dovecot forks this program for every login, so it imports node: builtins
 * only (and core/auth-wire.ts, which imports nothing) and does one HTTP
 * request to the daemon's auth listener:
 *
 *   fd 3  ← `user\0password\0timestamp\0` from Dovecot, then EOF   (input.ts)
 *   POST /v1/passdb/verify (or, for lookups, GET /v1/userdb/<user>) (client.ts)
 *   ok   → run the reply program with USER, HOME, EXTRA + the EXTRA
 *          variables set; it writes the fields to fd 4               (reply.ts)
 *   every other outcome → an exit status Dovecot understands         (exit.ts)
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
import type { VerifyRequest } from '../../core/auth-wire.js';
import { lookupUserdb, parseEndpoint, verify, type Target } from './client.js';
import { EXIT_TEMPFAIL, afterInput, afterLookup, afterReply, afterVerify, credentialLookup, exit, type ExitStep, type Step } from './exit.js';
import { readInput } from './input.js';
import { replyEnv, runReply } from './reply.js';

export { EXIT_TEMPFAIL } from './exit.js';

/** One line on stderr, which Dovecot copies into its log for a checkpassword child. Never a password here. */
function log(message: string): void {
  process.stderr.write(`mailpassd checkpassword: ${message}\n`);
}

const DEFAULT_INPUT_TIMEOUT_MS = 5_000;
const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

export interface CheckpasswordTarget {
  /** `http://host:port`, `unix:/path`, or a bare `host:port` (MAILPASSD_AUTH_LISTEN form). */
  authUrl: string;
  secret: string | null;
}

function positiveInt(value: string | undefined, dflt: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : dflt;
}

/** Runs one checkpassword request; the result is the process's exit status. env: Dovecot's environment for this login. */
export async function runCheckpassword(replyArgv: string[], target: CheckpasswordTarget, env: NodeJS.ProcessEnv): Promise<number> {
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
  const server: Target = { endpoint, secret: target.secret, timeoutMs: positiveInt(env.MAILPASSD_CHECKPASSWORD_TIMEOUT_MS, DEFAULT_HTTP_TIMEOUT_MS) };

  const input = await readInput(3, inputTimeout);
  if (input.kind !== 'ok') return finish(afterInput(input, inputTimeout), replyArgv, env);

  if (env.AUTHORIZED === '1') {
    if (env.CREDENTIALS_LOOKUP === '1') return finish(credentialLookup(env.SCHEME, env.AUTH_MECH), replyArgv, env);
    return finish(afterLookup(await lookupUserdb(server, input.user), target.authUrl), replyArgv, env);
  }

  const req: VerifyRequest = { user: input.user, password: input.password };
  const service = env.SERVICE || env.AUTH_SERVICE;
  if (service) req.service = service;
  const remoteIp = env.TCPREMOTEIP || env.AUTH_REMOTE_IP;
  if (remoteIp) req.remote_ip = remoteIp;
  const localIp = env.TCPLOCALIP || env.AUTH_LOCAL_IP;
  if (localIp) req.local_ip = localIp;
  if (env.AUTH_SESSION) req.session = env.AUTH_SESSION;

  const outcome = await verify(server, req);
  req.password = '';
  return finish(afterVerify(outcome, target.authUrl, input.user), replyArgv, env);
}

/** Logs and exits, or runs the reply program and exits with what it says. */
async function finish(step: Step, replyArgv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const end = step.kind === 'reply' ? await reply(step, replyArgv, env) : step;
  if (end.log !== undefined) log(end.log);
  return end.code;
}

async function reply(step: Extract<Step, { kind: 'reply' }>, replyArgv: string[], env: NodeJS.ProcessEnv): Promise<ExitStep> {
  const built = replyEnv(env, step.user, step.fields, step.authorized);
  if (built.kind === 'invalid') return exit(EXIT_TEMPFAIL, built.why);
  if (built.ignored.length > 0) {
    log(`ignored non-userdb fields in the answer: ${built.ignored.slice(0, 10).map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}`);
  }
  return afterReply(await runReply(replyArgv, built.env), replyArgv[0]!);
}
