import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterHome, ensureEmbedded, reachableBy } from '../../src/store/embedded.js';
import { requireParts } from '../helpers/parts.js';

/**
 * As root the embedded PostgreSQL runs as user `postgres`; a checkout under a
 * private home (Debian's /root is 0700) is out of its reach. Found by running
 * `npm test` in a fresh Debian 13 chroot from /root/mailpassd: initdb failed
 * with "Permission denied" and an empty message.
 */
const root = mkdtempSync(path.join(tmpdir(), 'mailpassd-reach-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const nobody = { uid: 65534, gid: 65534 };
const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };

describe('reachableBy', () => {
  it('needs search (x) permission on every directory on the way, for the user, its group or others', () => {
    const open = path.join(root, 'open', 'inner');
    const closed = path.join(root, 'closed', 'inner');
    mkdirSync(open, { recursive: true });
    mkdirSync(closed, { recursive: true });
    chmodSync(path.join(root, 'open'), 0o755);
    chmodSync(root, 0o755);
    chmodSync(path.join(root, 'closed'), 0o700);
    expect(reachableBy(path.join(open, 'file'), nobody)).toBe(true);
    expect(reachableBy(path.join(closed, 'file'), nobody)).toBe(false);
    // The owner of the private directory still passes it.
    expect(reachableBy(path.join(closed, 'file'), owner)).toBe(true);
    chmodSync(path.join(root, 'closed'), 0o701);
    expect(reachableBy(path.join(closed, 'file'), nobody)).toBe(true);
  });
});

requireParts(['root'])('the embedded PostgreSQL as root', () => {
  it('keeps the cluster of a data directory postgres cannot reach under /var/lib/mailpassd, and finds it again', async () => {
    const hidden = path.join(root, 'private');
    mkdirSync(hidden, { mode: 0o700 });
    chmodSync(hidden, 0o700);
    const dataDir = path.join(hidden, 'data');
    const ids = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
    const first = await ensureEmbedded(dataDir, true);
    const home = clusterHome(dataDir, ids);
    try {
      expect(home).toMatch(/^\/var\/lib\/mailpassd\/embedded-[0-9a-f]{16}$/);
      expect(existsSync(path.join(home, 'postgres', 'PG_VERSION'))).toBe(true);
      expect(existsSync(path.join(dataDir, 'embedded.json'))).toBe(true);
      await first.release();
      // A second start of the same data directory adopts the same cluster (same password, same data).
      const again = await ensureEmbedded(dataDir, true);
      expect(again.url).toBe(first.url);
      await again.release();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
