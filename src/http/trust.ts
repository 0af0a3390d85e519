import { BlockList, isIP } from 'node:net';

/**
 * Who sent a request, as far as it can be believed: the proxies in front whose
 * X-Forwarded-* headers are trusted, and the browser-origin check. Shared by the
 * self-service route and the web console, each with its own list of proxies.
 */

const unmapped = (ip: string) => ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
const familyOf = (ip: string): 'ipv4' | 'ipv6' => (isIP(ip) === 4 ? 'ipv4' : 'ipv6');

export class TrustedProxies {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  /** `cidrs` as the config normalises them: `addr/prefix`. */
  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [addr, prefix] = cidr.split('/') as [string, string];
      this.list.addSubnet(addr, Number(prefix), familyOf(addr));
    }
    this.empty = cidrs.length === 0;
  }

  has(ip: string): boolean {
    const a = unmapped(ip);
    return !this.empty && isIP(a) !== 0 && this.list.check(a, familyOf(a));
  }

  /**
   * The end user's address from X-Forwarded-For, read right to left past our own
   * proxies; null unless the peer itself is trusted (anyone else could name any
   * address and get a fresh bucket per request) or when an entry is not an address.
   * `callerTrusted`: the caller proved itself otherwise (the self-service shared
   * secret), so its header is believed whatever its address.
   */
  clientOf(peer: string | undefined, header: string | string[] | undefined, callerTrusted = false): string | null {
    if (peer === undefined || header === undefined || !(callerTrusted || this.has(peer))) return null;
    const hops = (Array.isArray(header) ? header.join(',') : header).split(',').map((h) => unmapped(h.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) return null;
      if (!this.has(hop)) return hop;
    }
    return null;
  }
}

/**
 * A browser always sends Origin on a cross-origin POST; a server-side caller
 * (Roundcube's PHP) sends none. A form on another site must not be able to make
 * a logged-in user's browser post here. Same origin = the Host the request was
 * sent to (the scheme may be terminated by a proxy in front), or a configured one.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, some redirects) and garbage
  }
  if (allowed.includes(url.origin)) return true;
  return host !== undefined && url.host === host.toLowerCase();
}
