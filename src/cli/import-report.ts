import cliProgress from 'cli-progress';
import type { ImportReport } from '../accounts/import.js';

/**
 * The import's progress bar on stderr: bytes of the file read (so the ETA is
 * real), with rows/s. Only on a terminal — with stdout or stderr redirected
 * (a script, a log) it stays quiet — and only for a file, whose size is known.
 */
export function importProgress(totalBytes: number | null): { update: (lines: number, bytes: number) => void; staged: (lines: number) => void; stop: () => void } {
  if (totalBytes === null || !process.stderr.isTTY || !process.stdout.isTTY) return { update: () => undefined, staged: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: 'importing [{bar}] {percentage}% | {lines} lines | {rate} rows/s | ETA {eta_formatted}', stream: process.stderr, hideCursor: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  bar.start(Math.max(1, totalBytes), 0, { lines: 0, rate: 0 });
  return {
    update: (lines, bytes) => bar.update(bytes, { lines, rate: Math.round(lines / Math.max(0.001, (performance.now() - started) / 1000)) }),
    // The writes that follow are one transaction with nothing to count: say so rather than leave a full bar standing.
    staged: (lines) => {
      bar.stop();
      process.stderr.write(`${lines} lines read; checking and writing in one transaction…\n`);
    },
    stop: () => bar.stop(),
  };
}

/** The human form of the report: counts, then the refused and changed lines by number. Addresses only, never a hash. */
export function importReportLines(r: ImportReport): string[] {
  const out = [
    r.dryRun ? 'dry run: nothing written' : `imported ${r.imported} mailbox(es)${r.domainsCreated.length ? `; domains added: ${r.domainsCreated.join(', ')}` : ''}; their hashes become argon2id at each next login`,
    `${r.lines} line(s): new ${r.new}, changed ${r.changed}, unchanged ${r.unchanged}, refused ${r.refused}`,
  ];
  if (r.dryRun && r.domainsMissing.length) out.push(`domains that would be added: ${r.domainsMissing.join(', ')}`);
  for (const x of r.refusedLines) out.push(`refused line ${x.line}: ${x.reason}`);
  if (r.refused > r.refusedLines.length) out.push(`(+${r.refused - r.refusedLines.length} more refused lines)`);
  for (const x of r.changedLines) out.push(`changed line ${x.line}: ${x.address} (${x.change === 'password' ? 'hash' : 'display name'})`);
  if (r.changed > r.changedLines.length) out.push(`(+${r.changed - r.changedLines.length} more changed lines)`);
  return out;
}
