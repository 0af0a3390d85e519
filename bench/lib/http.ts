// A minimal keep-alive JSON client. node:http with a persistent agent adds less
// client-side jitter than fetch, which matters when comparing ~20 ms latencies.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface JsonAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the benchmarks read answers field by field
  body: any;
  text: string;
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: json, text });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** One passdb verify; resolves to the `result` string (or `http_<status>`). */
export async function verify(authUrl: string, user: string, password: string, remoteIp = '192.0.2.10'): Promise<string> {
  const r = await postJson(`${authUrl}/v1/passdb/verify`, { user, password, service: 'imap', remote_ip: remoteIp });
  return r.body?.result ?? `http_${r.status}`;
}

export function closeClient(): void {
  agent.destroy();
}

/** One GET with a cookie over `agent`: ms from request to the last byte, the status and the size. */
function timedGet(url: string, cookie: string, via: http.Agent): Promise<{ ms: number; status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent: via, headers: { cookie } }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * `n` sequential GETs of a page (console pages: a session cookie) on one
 * keep-alive connection, after 10 unrecorded; each must answer 200 with a body
 * `big` accepts (its size in bytes).
 */
export async function timedGets(url: string, cookie: string, n: number, big: (bytes: number) => boolean): Promise<{ times: number[]; bytes: number }> {
  const via = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 10; i++) await timedGet(url, cookie, via);
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const r = await timedGet(url, cookie, via);
      if (r.status !== 200 || !big(r.bytes)) throw new Error(`GET ${url}: HTTP ${r.status}, ${r.bytes} bytes`);
      times.push(r.ms);
      bytes = r.bytes;
    }
    return { times, bytes };
  } finally {
    via.destroy();
  }
}
