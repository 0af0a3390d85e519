// `npx tsx bench/profile.ts [warm|cold|app|baseline] [seconds]` (after npm run build) — CPU profile of a daemon
// under the warm (memo hit), cold (argon2) or app-password (memo off, no argon2) load, or of the warm-auth baseline
// server for comparison: the server runs with --cpu-prof,
// is loaded with autocannon, stopped with SIGTERM (the profile is written at
// exit), and the top frames by self time, grouped by function and by package,
// are printed. A diagnostic aid for a missed floor; it does not touch RESULTS.md.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../harness/paths.js';
import { startBaseline } from './lib/context.js';
import { addMailbox, NO_THROTTLE, startBenchDaemon, strongPassword } from './lib/daemon.js';
import { hammer } from './lib/load.js';
import { startPostgres } from './lib/postgres.js';
import { benchDir, cleanupAll } from './lib/procs.js';
import { fmt } from './lib/stats.js';

/** The parts of a V8 .cpuprofile read here. */
interface CpuProfile {
  startTime: number;
  endTime: number;
  samples: number[];
  nodes: { id: number; hitCount?: number; children?: number[]; callFrame: { functionName: string; url: string; lineNumber: number } }[];
}

const [mode = 'warm', secs = '10'] = process.argv.slice(2);
if (!['warm', 'cold', 'app', 'baseline'].includes(mode)) throw new Error('usage: npx tsx bench/profile.ts [warm|cold|app|baseline] [seconds]');

/** Where a frame's code comes from: a package, our dist/ module, or Node itself. */
function origin(url: string): string {
  if (!url) return '(native / GC / idle)';
  if (url.startsWith('node:')) return 'node core';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 13).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const ours = pathToFileURL(path.join(ROOT, 'dist')).href + '/';
  if (url.startsWith(ours)) return `mailpassd dist/${url.slice(ours.length)}`;
  return url;
}

function summarize(file: string, requests = 0): void {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const total = (prof.endTime - prof.startTime) / 1000; // ms
  const samples = prof.samples.length;
  const perSample = total / samples;
  const byFn = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  for (const n of prof.nodes) {
    if (!n.hitCount) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const name = `${functionName || '(anonymous)'}  ${url ? `${url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : ''}`;
    byFn.set(name, (byFn.get(name) ?? 0) + n.hitCount);
    const o = ['(idle)', '(program)', '(garbage collector)'].includes(functionName) ? functionName : origin(url);
    byOrigin.set(o, (byOrigin.get(o) ?? 0) + n.hitCount);
  }
  const top = (m: Map<string, number>, k: number) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k);
  const busy = samples - (byOrigin.get('(idle)') ?? 0);
  console.log(`\nprofile ${path.basename(file)}: ${fmt(total / 1000, 1)} s, ${samples} samples, busy ${fmt((busy / samples) * 100, 1)} % of wall time`);
  console.log('\nself time by origin (% of busy samples):');
  // µs per request: what each origin costs a request, comparable between the daemon and the baseline.
  const perReq = (c: number) => (requests > 0 ? `${fmt((c * perSample * 1000) / requests, 1).padStart(6)} µs/req  ` : '');
  for (const [o, c] of top(byOrigin, 20)) if (o !== '(idle)') console.log(`  ${fmt((c / busy) * 100, 1).padStart(5)} %  ${fmt(c * perSample, 0).padStart(6)} ms  ${perReq(c)}${o}`);
  console.log('\ntop functions by self time (% of busy samples):');
  for (const [f, c] of top(byFn, 30)) if (!f.startsWith('(idle)')) console.log(`  ${fmt((c / busy) * 100, 1).padStart(5)} %  ${perReq(c)}${f}`);

  // Node's own share is the largest after the kernel's: which of its functions.
  const core = new Map([...byFn.entries()].filter(([f]) => / node:/.test(f) || /^\S+\s*$/.test(f)));
  console.log('\nnode core and native functions by self time (% of busy samples):');
  for (const [f, c] of top(core, 20)) if (!f.startsWith('(idle)')) console.log(`  ${fmt((c / busy) * 100, 1).padStart(5)} %  ${perReq(c)}${f}`);

  // Inclusive time of our own functions: what each step of the request costs with everything it calls.
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ours = pathToFileURL(path.join(ROOT, 'dist')).href + '/';
  const inclusive = new Map<string, number>();
  for (const id of prof.samples) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const { functionName, url, lineNumber } = byId.get(cur)!.callFrame;
      if (!url.startsWith(ours)) continue;
      const key = `${functionName || '(anonymous)'}  dist/${url.slice(ours.length)}:${lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + 1);
    }
  }
  console.log('\nmailpassd functions by inclusive time (% of busy samples):');
  for (const [f, c] of top(inclusive, 25)) console.log(`  ${fmt((c / busy) * 100, 1).padStart(5)} %  ${perReq(c)}${f}`);
}

try {
  const pg = await startPostgres();
  const profDir = benchDir('cpuprof');
  const password = strongPassword();
  const user = 'profile.user@example.org';
  const d = await startBenchDaemon({
    databaseUrl: pg.url,
    nodeId: `profile-${mode}`,
    logLevel: process.env.PROFILE_LOG_LEVEL ?? 'warn',
    env: { ...NO_THROTTLE, ...(mode === 'cold' || mode === 'app' ? { MAILPASSD_AUTH_MEMO_TTL_SECONDS: '0' } : {}) },
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir],
  });
  await addMailbox(d, user, password);
  const loginPassword = mode === 'app' ? ((JSON.parse(await d.cliOk(['app-password', 'add', user, '--name', 'profile', '--json'])) as { password: string }).password) : password;
  let target: { authUrl: string; stop(): Promise<unknown> } = d;
  if (mode === 'baseline') {
    // Same database and row; the daemon (unprofiled output discarded) only created the schema and data.
    const baseline = await startBaseline(pg.url, { logDir: profDir, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir] });
    target = { authUrl: baseline.url, stop: baseline.stop };
  }
  const body = { user, password: loginPassword, service: 'imap', remote_ip: '192.0.2.10' };
  const res = await hammer({ url: `${target.authUrl}/v1/passdb/verify`, body, connections: mode === 'cold' ? 8 : 50, seconds: Number(secs) });
  console.log(`load: ${fmt(res.rps)} req/s, p50 ${res.p50} ms, p99 ${res.p99} ms, errors ${res.errors}, non-2xx ${res.non2xx}`);
  await target.stop();
  await d.stop();
  // In baseline mode the daemon was profiled too: report only the baseline server (the newest file).
  let files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).sort();
  if (mode === 'baseline') files = files.filter((f) => !f.includes(`.${d.pid}.`));
  if (files.length === 0) throw new Error('no .cpuprofile written (did the daemon exit cleanly?)');
  // The first file is the main thread (it served every request); worker threads follow.
  files.forEach((f, i) => summarize(path.join(profDir, f), i === 0 ? res.total : 0));
} finally {
  await cleanupAll();
}
