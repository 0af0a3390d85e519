// autocannon wrapper: one POST body repeated, results reduced to the figures we report.
import autocannon from 'autocannon';
import { fmt, median, ms } from './stats.js';

export interface Hammered {
  rps: number;
  total: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/**
 * `body`: the same one every request; `bodies`: the next one each request, round-robin
 * (many users, as bench/scale.ts sends them), pre-serialised.
 */
export async function hammer({ url, body, bodies, connections, seconds }: { url: string; body?: unknown; bodies?: string[]; connections: number; seconds: number }): Promise<Hammered> {
  let next = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    ...(bodies ? { requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }) }] } : { body: JSON.stringify(body) }),
    connections,
    duration: seconds,
    // Latency is what the client sees including queueing; no pipelining (Dovecot does not pipeline).
    pipelining: 1,
  });
  return {
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** One timed run of a target, with the server process's CPU per request. */
export type Round = Hammered & { cpuPerReq: number };

export interface RoundSummary {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  cpuPerReq: number;
}

/** Medians over a target's rounds; errors and non-2xx answers summed. */
export function summarizeRounds(rounds: Round[]): RoundSummary {
  return {
    rps: median(rounds.map((x) => x.rps)),
    p50: median(rounds.map((x) => x.p50)),
    p99: median(rounds.map((x) => x.p99)),
    errors: rounds.reduce((a, x) => a + x.errors + x.non2xx, 0),
    cpuPerReq: median(rounds.map((x) => x.cpuPerReq)),
  };
}

export const THROUGHPUT_COLUMNS = ['target', 'req/s (median)', 'p50', 'p99', 'errors + non-2xx', 'req/s per round', 'server CPU per request'];

/** A target's row under THROUGHPUT_COLUMNS. */
export function throughputRow(label: string, s: RoundSummary, rounds: Round[]): string[] {
  return [label, fmt(s.rps), ms(s.p50), ms(s.p99), String(s.errors), rounds.map((x) => fmt(x.rps)).join(' / '), `${fmt(s.cpuPerReq * 1000, 0)} µs`];
}
