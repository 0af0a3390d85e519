// autocannon wrapper: one POST body repeated, results reduced to the figures we report.
import autocannon from 'autocannon';

export interface Hammered {
  rps: number;
  total: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export async function hammer({ url, body, connections, seconds }: { url: string; body: unknown; connections: number; seconds: number }): Promise<Hammered> {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
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
