import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { formatListen, type Config, type Listen } from '../../config/index.js';

/** A finding of `doctor`: `warning` ones are shown as WARN and do not change the exit status. */
export interface ExposureCheck {
  check: string;
  ok: boolean;
  detail: string;
  warning?: true;
}

/** Dovecot's internal user on Debian (default_internal_user); it must read nothing of mailpassd's. */
const DOVECOT_USER = 'dovecot';

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

interface Account {
  uid: number;
  gids: Set<number>;
}

/** The uid and every group (primary and /etc/group memberships) of a local user, or null. */
function localAccount(name: string): Account | null {
  let passwd: string;
  let group: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
    group = readFileSync('/etc/group', 'utf8');
  } catch {
    return null;
  }
  const entry = passwd.split('\n').find((l) => l.startsWith(`${name}:`))?.split(':');
  if (!entry) return null;
  const gids = new Set([Number(entry[3])]);
  for (const line of group.split('\n')) {
    const [, , gid, members] = line.split(':');
    if (members?.split(',').includes(name)) gids.add(Number(gid));
  }
  return { uid: Number(entry[2]), gids };
}

/** Who besides the owner and root may read `file`: "everyone", "dovecot", or null. */
function extraReaders(file: string, dovecot: Account | null): string | null {
  const st = statSync(file);
  if (st.mode & 0o004) return 'every local user';
  if (dovecot && (st.uid === dovecot.uid || (st.mode & 0o040 && dovecot.gids.has(st.gid)))) return `user ${DOVECOT_USER}`;
  return null;
}

function warn(check: string, detail: string): ExposureCheck {
  return { check, ok: false, detail, warning: true };
}

function listenerExposure(name: string, listen: Listen, socketMode: number): ExposureCheck | null {
  if (listen.kind === 'unix') {
    return socketMode & 0o006 ? warn(name, `${formatListen(listen)} has mode 0${socketMode.toString(8)}: every local user can connect`) : null;
  }
  return isLoopback(listen.host) ? null : warn(name, `${formatListen(listen)} is reachable from other hosts`);
}

/**
 * What a local user (or Dovecot) could reach that it should not: the auth
 * listener without a secret, mailpassd.toml readable by Dovecot or everyone,
 * sockets open to all, metrics and API description open beyond this host.
 */
export function exposureChecks(config: Config): ExposureCheck[] {
  const out: ExposureCheck[] = [];
  const auth = config.auth.listen;
  if (auth.kind === 'tcp' && config.derived.auth_secret === null) {
    out.push(
      warn(
        'auth secret',
        `auth listener ${formatListen(auth)} is TCP without auth.secret: every local user can test passwords through it ` +
          '(with made-up remote_ip values, so the per-IP throttle does not hold); set auth.secret_file (the systemd unit does) or listen on unix:',
      ),
    );
  }
  for (const [name, { listen, socket_mode }] of [['auth exposure', config.auth], ['admin exposure', config.admin]] as const) {
    const finding = listenerExposure(name, listen, socket_mode);
    if (finding) out.push(finding);
  }
  const admin = config.admin.listen;
  const open = [!config.admin.metrics_require_token && '/metrics', !config.admin.openapi_require_token && '/openapi.json'].filter(Boolean);
  if (admin.kind === 'tcp' && !isLoopback(admin.host) && open.length > 0) {
    out.push(warn('admin public routes', `${open.join(' and ')} answer without a token on ${formatListen(admin)}; set admin.metrics_require_token / admin.openapi_require_token`));
  }

  const dovecot = localAccount(DOVECOT_USER);
  const files: Array<[string, string | undefined]> = [
    ['config file', config.derived.file ?? undefined],
    ['auth secret file', config.derived.raw.auth.secret_file],
  ];
  for (const [name, file] of files) {
    if (!file) continue;
    let readers: string | null;
    try {
      readers = extraReaders(file, dovecot);
    } catch (err) {
      out.push(warn(name, `${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`));
      continue;
    }
    // The secret file is meant for Dovecot; only "everyone" is too many there.
    if (readers === null || (name === 'auth secret file' && readers !== 'every local user')) continue;
    out.push(
      warn(
        name,
        name === 'config file'
          ? `${file} is readable by ${readers}; it holds the database URL and API keys: chmod 0640, owner root, group mailpassd (Dovecot not a member)`
          : `${file} is readable by ${readers}: chmod 0640, group ${DOVECOT_USER}`,
      ),
    );
  }
  return out;
}
