// Benchmark 3 — checkpassword process cost.
// Dovecot 2.3's checkpassword passdb forks `mailpassd checkpassword` for every
// login, so its start-up time is paid per login. Measured: wall time from spawn
// to exit of the real entry point (fd 3 = a pipe carrying `user\0password\0\0`,
// reply program /bin/true) against a running daemon (memo on, so the daemon's
// share is a memo hit of ~1 ms), minus a bare `node -e ''` spawned the same way.
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { MAIN } from '../harness/paths.js';
import { cleanEnv } from '../harness/process.js';
import type { BenchContext } from './lib/context.js';
import type { BenchResult } from './lib/report.js';
import { median, ms, percentile } from './lib/stats.js';

export const name = 'checkpassword';
export const title = 'checkpassword process cost (per login fork)';
const FLOOR_MS = 80;

function timedSpawn(args: string[], env: Record<string, string>, input: Buffer): Promise<{ elapsed: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    // `node -e ''` may exit before reading fd 3; a broken pipe there is expected.
    const fd3 = child.stdio[3] as Writable;
    fd3.on('error', () => undefined);
    fd3.end(input);
    child.on('error', reject);
    child.on('exit', (code) => resolve({ elapsed: performance.now() - started, code, stderr }));
  });
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.quick ? 10 : 30;
  const d = await ctx.daemon('warm-warn');
  // Only what Dovecot's environment would carry: where the auth listener is.
  const env = cleanEnv({ MAILPASSD_AUTH_LISTEN: d.authListen });
  const input = Buffer.from(`${ctx.user}\0${ctx.password}\0\0`);
  const cpArgs = [MAIN, 'checkpassword', '/bin/true'];
  const bareArgs = ['-e', ''];

  // Warm-up: page cache for node and dist/, the daemon's memo entry.
  for (let i = 0; i < 3; i++) {
    const r = await timedSpawn(cpArgs, env, input);
    if (r.code !== 0) throw new Error(`checkpassword exited ${r.code}: ${r.stderr.trim()}`);
    await timedSpawn(bareArgs, env, input);
  }

  const cp: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < n; i++) {
    // Interleaved so drift in machine load hits both series alike.
    const r = await timedSpawn(cpArgs, env, input);
    if (r.code !== 0) throw new Error(`checkpassword exited ${r.code}: ${r.stderr.trim()}`);
    cp.push(r.elapsed);
    bare.push((await timedSpawn(bareArgs, env, input)).elapsed);
  }

  const extraMedian = median(cp) - median(bare);
  const extraP90 = percentile(cp, 90) - percentile(bare, 90);
  console.log(`  checkpassword median ${ms(median(cp))} p90 ${ms(percentile(cp, 90))}; node -e '' median ${ms(median(bare))} p90 ${ms(percentile(bare, 90))}`);
  return {
    setup: [
      `${n} runs of each, interleaved, after 3 unrecorded warm-ups. Wall time spawn → exit, measured in the parent.`,
      '`node dist/cli/main.js checkpassword /bin/true`, fd 3 = pipe with `user\\0password\\0\\0`, env only MAILPASSD_AUTH_LISTEN; exit 0 checked on every run (the answer was "ok" and /bin/true ran).',
    ],
    tables: [
      {
        columns: ['command', 'median', 'p90', 'min', 'max'],
        rows: [
          ['mailpassd checkpassword /bin/true', ms(median(cp)), ms(percentile(cp, 90)), ms(Math.min(...cp)), ms(Math.max(...cp))],
          ["node -e ''", ms(median(bare)), ms(percentile(bare, 90)), ms(Math.min(...bare)), ms(Math.max(...bare))],
          ['extra (difference)', ms(extraMedian), ms(extraP90), '', ''],
        ],
      },
    ],
    verdicts: [
      { what: 'extra time, median', value: extraMedian, shown: ms(extraMedian), floor: `< ${FLOOR_MS} ms`, pass: extraMedian < FLOOR_MS },
      { what: 'extra time, p90', value: extraP90, shown: ms(extraP90), floor: `< ${FLOOR_MS} ms`, pass: extraP90 < FLOOR_MS },
    ],
    figures: { cpMedian: median(cp), bareMedian: median(bare), extraMedian, extraP90 },
  };
}
