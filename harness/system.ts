/**
 * Users, groups and files that the Dovecot and Postfix instances of the
 * harness need on the host (root only).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

/** uid 65534: what a "not root, not in our groups" caller runs as. */
export const NOBODY_UID = 65534;

/** The system group the snippets grant auth-master/anvil access to. */
export function ensureGroup(name = 'mailpassd'): number {
  const get = () => spawnSync('getent', ['group', name], { encoding: 'utf8' });
  let r = get();
  if (r.status !== 0) {
    spawnSync('groupadd', ['--system', name], { encoding: 'utf8' });
    r = get();
    if (r.status !== 0) throw new Error(`group ${name} missing and groupadd failed (run as root)`);
  }
  return Number(r.stdout.split(':')[2]);
}

/**
 * The system user the daemon runs as in production (`useradd --system`),
 * primary group `name` - the group the snippets grant auth-master/anvil to.
 */
export function ensureUser(name = 'mailpassd'): { uid: number; gid: number } {
  const gid = ensureGroup(name);
  const get = () => spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  let r = get();
  if (r.status !== 0) {
    const add = spawnSync('useradd', ['--system', '--gid', name, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
    r = get();
    if (r.status !== 0) throw new Error(`user ${name} missing and useradd failed (run as root): ${add.stderr}`);
  }
  const [, , uid, primary] = r.stdout.trim().split(':');
  if (Number(primary) !== gid) throw new Error(`user ${name}'s primary group is ${primary}, expected ${name} (${gid})`);
  return { uid: Number(uid), gid };
}

/** Numeric gid of a host group (throws if missing). */
export function groupId(name: string): number {
  const r = spawnSync('getent', ['group', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`group ${name} missing`);
  return Number(r.stdout.split(':')[2]);
}

/** uid and primary gid of a host user (throws, naming the package that brings it, if missing). */
export function userIds(user: string, pkg = user): { uid: number; gid: number } {
  const r = spawnSync('getent', ['passwd', user], { encoding: 'utf8' });
  const f = r.stdout.trim().split(':');
  if (r.status !== 0 || f.length < 4) throw new Error(`user ${user} missing (apt-get install ${pkg})`);
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/**
 * A directory for mailbox homes, owned by the uid/gid mailpassd hands out
 * (MAILPASSD_USERDB_UID/GID), so Dovecot can create the homes in it. Pass
 * `${dir}/%d/%n` as MAILPASSD_USERDB_HOME.
 */
export function createMailRoot(uid = 5000, gid = 5000): { dir: string; remove(): void } {
  const root = tempDir('vmail');
  chownSync(root.dir, uid, gid);
  return root;
}

/**
 * The shipped snippets read the auth secret from a file, 0640 root:dovecot.
 * With a secret: that file, written here (`dir` as Dovecot sees it is
 * `visibleDir`); without one: an empty value, which clears the snippet's
 * default path (test-only: production always has a secret).
 */
export function authSecretFile(dir: string, secret: string | undefined, dovecotGid: number, visibleDir = dir): string {
  if (!secret) return '';
  const path = join(dir, 'mailpassd-auth.secret');
  writeFileSync(path, `${secret}\n`, { mode: 0o640 });
  chownSync(path, 0, dovecotGid);
  chmodSync(path, 0o640);
  return join(visibleDir, 'mailpassd-auth.secret');
}
