import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A temp dir that other users (postgres, dovecot) can traverse: mkdtemp's 0700 would lock them out. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `mailpassd-${prefix}-`));
  chmodSync(dir, 0o755);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Whether a test or benchmark asked to keep its directories for a post-mortem. */
export const keepDirs = (): boolean => Boolean(process.env.MAILPASSD_KEEP_TEST_DIRS);
