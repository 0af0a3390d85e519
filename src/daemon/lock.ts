import { mkdirSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { MailpassdError } from '../core/errors.js';
import { isAlive, readPidFile } from '../core/pid.js';

/**
 * One daemon per data directory: `<data_dir>/mailpassd.pid`, created exclusively.
 * A file left by a crashed daemon (its PID gone) is replaced.
 */
export function acquireDaemonLock(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  const file = path.join(dataDir, 'mailpassd.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        if (readPidFile(file) === process.pid) rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = readPidFile(file);
      if (pid !== null && pid !== process.pid && isAlive(pid)) {
        throw new MailpassdError('daemon_running', `another mailpassd (pid ${pid}) is already serving data directory ${dataDir}`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new MailpassdError('daemon_lock', `cannot lock data directory ${dataDir}`);
}
