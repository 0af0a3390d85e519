// Small, dependency-free statistics. Percentiles use the nearest-rank method so a
// reported p99 is always a value that was actually observed (with 60 samples,
// p99 is the maximum — stated next to the figure rather than hidden by interpolation).

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length, Math.max(1, rank)) - 1]!;
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

export function stddev(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
}

/** Mean of the middle part: drops the `trim` fraction at each end (GC pauses, scheduler hiccups). */
export function trimmedMean(xs: number[], trim = 0.05): number {
  const s = sorted(xs);
  const k = Math.floor(s.length * trim);
  return mean(s.slice(k, s.length - k));
}

/** Formats a number with a sensible number of digits for tables. */
export function fmt(x: number | null | undefined, digits?: number): string {
  if (x === null || x === undefined || Number.isNaN(x)) return 'n/a';
  if (!Number.isFinite(x)) return '∞';
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export const ms = (x: number): string => `${fmt(x)} ms`;
export const pct = (x: number): string => `${fmt(x * 100, 1)} %`;
