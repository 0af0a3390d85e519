// CPU per argon2id verify of the same stored hashes in the libraries the Dovecot
// comparison puts side by side: libsodium (Dovecot 2.3's {ARGON2ID}, through
// sodium-verify.py), the node `argon2` package, and mailpassd's own
// verifyPassword (src/auth/hash.ts — whatever implementation it uses now).
// Sequential, one at a time: the cost of the hash itself, apart from any
// process or queue around it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import argon2 from 'argon2';
import { verifyPassword } from '../../src/auth/hash.js';

export interface Argon2Cost {
  cpuMsPerVerify: number;
  wallMsPerVerify: number;
  n: number;
}

export async function libsodiumVerifyCost(pairs: { hash: string; password: string }[], rounds = 1): Promise<Argon2Cost> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sodium-verify.py');
  const child = spawn('python3', [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  child.stdin.end(JSON.stringify({ pairs, rounds }));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`sodium-verify.py exited ${code}: ${err.slice(-2000)}`);
  const r = JSON.parse(out) as { n: number; ok: number; cpu_ms_per_verify: number; wall_ms_per_verify: number };
  if (r.ok !== r.n) throw new Error(`libsodium accepted ${r.ok} of ${r.n} right passwords`);
  return { cpuMsPerVerify: r.cpu_ms_per_verify, wallMsPerVerify: r.wall_ms_per_verify, n: r.n };
}

export const nodeArgon2VerifyCost = (pairs: { hash: string; password: string }[], rounds = 1) => inProcessCost((h, p) => argon2.verify(h, p), pairs, rounds);
export const mailpassdVerifyCost = (pairs: { hash: string; password: string }[], rounds = 1) => inProcessCost(verifyPassword, pairs, rounds);

async function inProcessCost(verify: (hash: string, password: string) => Promise<boolean>, pairs: { hash: string; password: string }[], rounds: number): Promise<Argon2Cost> {
  await verify(pairs[0]!.hash, pairs[0]!.password); // load and warm the native module
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  for (let r = 0; r < rounds; r++) {
    for (const p of pairs) {
      if (!(await verify(p.hash, p.password))) throw new Error('a right password was refused');
      n++;
    }
  }
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpuMsPerVerify: (c.user + c.system) / 1000 / n, wallMsPerVerify: wall / n, n };
}
