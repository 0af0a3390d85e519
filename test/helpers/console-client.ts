/**
 * A tiny cookie-keeping client for one browser's worth of console requests over
 * real HTTP (no browser): form posts with the page's CSRF token and the
 * console's Origin, redirects not followed.
 */
export class ConsoleClient {
  cookies = new Map<string, string>();
  csrf = '';
  constructor(readonly base: string) {}
  async req(method: 'GET' | 'POST', path: string, form?: Record<string, string | string[]>) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form ?? {})) for (const x of [v].flat()) body.append(k, x);
    if (method === 'POST' && this.csrf && !('_csrf' in (form ?? {}))) body.append('_csrf', this.csrf);
    const res = await fetch(`${this.base}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(method === 'POST' && { origin: new URL(this.base).origin, 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(method === 'POST' && { body: body.toString() }),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [k, v] = pair!.split('=') as [string, string];
      if (v === '' || /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    const text = await res.text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(text)?.[1];
    if (csrf) this.csrf = csrf;
    return { status: res.status, location: res.headers.get('location'), text };
  }
  async login(address: string, password: string) {
    return this.req('POST', '/login', { address, password });
  }
}

