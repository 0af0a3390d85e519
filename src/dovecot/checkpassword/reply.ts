/**
 * The reply program: Dovecot appends it as checkpassword's last argument
 * (normally /usr/lib/dovecot/checkpassword-reply). It is run with fds 0–4
 * inherited and USER, HOME, EXTRA and the EXTRA variables set, and writes the
 * fields to fd 4 for Dovecot.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type ReplyEnv =
  /** ignored: the field names left out because they are not `userdb_*`, for a log line. */
  | { kind: 'env'; env: NodeJS.ProcessEnv; ignored: string[] }
  | { kind: 'invalid'; why: string };

/**
 * Builds USER/HOME/EXTRA for checkpassword-reply from Dovecot field names.
 *
 * Only `userdb_*` fields are passed on. checkpassword-reply hands every name
 * in EXTRA to Dovecot as a passdb field, and passdb fields steer the login
 * itself (`proxy`/`host` send the session elsewhere, `nopassword` skips the
 * check, `allow_nets`, `user` renames it): whatever answers on the auth
 * listener's address must not be able to set those. mailpassd itself sends
 * nothing else (prefetch fields only).
 *
 * authorized: a lookup without a password; AUTHORIZED=2 makes the reply
 * program exit 2 ("lookup succeeded") instead of 0.
 */
export function replyEnv(base: NodeJS.ProcessEnv, user: string, fields: Record<string, string>, authorized: boolean): ReplyEnv {
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
    if (!ENV_NAME.test(key)) return { kind: 'invalid', why: `field name ${JSON.stringify(key)} cannot be passed through the environment` };
    if (value.includes('\0')) return { kind: 'invalid', why: `field ${key} contains NUL` };
    if (key === 'userdb_home') {
      env.HOME = value; // checkpassword-reply turns HOME into userdb_home
      continue;
    }
    env[key] = value;
    extra.push(key);
  }
  if (extra.length > 0) env.EXTRA = extra.join(' ');
  if (authorized) env.AUTHORIZED = '2';
  return { kind: 'env', env, ignored };
}

/** How the reply program ended; exit.ts turns it into our exit status. */
export type ReplyEnd = { kind: 'exited'; code: number } | { kind: 'killed'; signal: string } | { kind: 'not_started'; why: string };

export function runReply(replyArgv: readonly string[], env: NodeJS.ProcessEnv): Promise<ReplyEnd> {
  return new Promise((resolve) => {
    const [cmd, ...args] = replyArgv;
    let child: ChildProcess;
    try {
      // fd 3 has been read to EOF but must still be there: the reply program
      // is the checkpassword protocol's "next program", with fds 0-4 as given.
      child = spawn(cmd!, args, { stdio: [0, 1, 2, 3, 4], env });
    } catch (e) {
      resolve({ kind: 'not_started', why: (e as Error).message });
      return;
    }
    child.on('error', (e: NodeJS.ErrnoException) => resolve({ kind: 'not_started', why: e.code ?? e.message }));
    child.on('exit', (code, signal) => {
      resolve(signal !== null || code === null ? { kind: 'killed', signal: signal ?? 'unknown signal' } : { kind: 'exited', code });
    });
  });
}
