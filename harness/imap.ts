/**
 * A tiny IMAP client for end-to-end tests and benchmarks: enough to log in,
 * run a command and see what the server answered, with every wait bounded.
 *
 * `localAddress` lets a test pick its source address in 127.0.0.0/8, so
 * Dovecot's per-IP auth penalty (and mailpassd's per-IP throttle) of one
 * test does not slow down the next.
 */
import { connect, type Socket } from 'node:net';

export interface ImapOptions {
  host?: string;
  localAddress?: string;
  timeoutMs?: number;
}

export interface TaggedResponse {
  /** OK, NO or BAD */
  status: string;
  /** The whole tagged line, e.g. `a1 NO [AUTHENTICATIONFAILED] Authentication failed.` */
  line: string;
  /** Untagged lines received before it. */
  untagged: string[];
}

/** IMAP quoted string (RFC 3501): backslash and double quote escaped. */
export function imapQuote(s: string): string {
  if (/[\r\n\0]/.test(s)) throw new Error('cannot quote CR, LF or NUL');
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export class ImapSession {
  private buffer = '';
  private lines: string[] = [];
  private waiter: (() => void) | null = null;
  private closed = false;
  private tagCounter = 0;
  readonly greeting: Promise<string>;
  /** Resolves with performance.now() when the connection closes (a kick, a LOGOUT, close()). */
  readonly closedAt: Promise<number>;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i: number;
      while ((i = this.buffer.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 2);
      }
      this.wake();
    });
    let markClosed: (at: number) => void = () => undefined;
    this.closedAt = new Promise((resolve) => (markClosed = resolve));
    socket.on('close', () => {
      this.closed = true;
      markClosed(performance.now());
      this.wake();
    });
    socket.on('error', () => {
      this.closed = true;
      this.wake();
    });
    this.greeting = this.nextLine();
  }

  static async open(port: number, opts: ImapOptions = {}): Promise<ImapSession> {
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const socket = connect({ host: opts.host ?? '127.0.0.1', port, localAddress: opts.localAddress });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        socket.destroy();
        reject(new Error(`IMAP connect to ${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      socket.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    const s = new ImapSession(socket, timeoutMs);
    const greeting = await s.greeting;
    if (!greeting.startsWith('* OK')) throw new Error(`unexpected IMAP greeting: ${greeting}`);
    return s;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Next line from the server; rejects on timeout, resolves '' once the connection is closed. */
  async nextLine(timeoutMs = this.timeoutMs): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.shift();
      if (line !== undefined) return line;
      if (this.closed) return '';
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line from IMAP server within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends `<tag> <command>` and collects lines up to the tagged answer (or the connection's end). */
  async command(command: string, timeoutMs = this.timeoutMs): Promise<TaggedResponse> {
    const tag = `a${++this.tagCounter}`;
    if (this.closed) return { status: 'CLOSED', line: '', untagged: [] };
    this.socket.write(`${tag} ${command}\r\n`);
    const untagged: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = await this.nextLine(Math.max(1, deadline - Date.now()));
      if (line === '' && this.closed) return { status: 'CLOSED', line: '', untagged };
      if (line.startsWith(`${tag} `)) {
        return { status: line.slice(tag.length + 1).split(' ')[0] ?? '', line, untagged };
      }
      untagged.push(line);
    }
  }

  login(user: string, password: string): Promise<TaggedResponse> {
    return this.command(`LOGIN ${imapQuote(user)} ${imapQuote(password)}`);
  }

  close(): void {
    this.socket.destroy();
  }

  async logout(): Promise<void> {
    if (!this.closed) {
      try {
        await this.command('LOGOUT', 5_000);
      } catch {
        /* closing anyway */
      }
    }
    this.close();
  }
}

/** One LOGIN on a fresh connection, then LOGOUT. */
export async function imapLogin(
  port: number,
  user: string,
  password: string,
  opts: ImapOptions = {},
): Promise<TaggedResponse> {
  const s = await ImapSession.open(port, opts);
  try {
    return await s.login(user, password);
  } finally {
    await s.logout();
  }
}

let nextAddress = 10;
/**
 * A fresh loopback source address per call (127.0.0.10, .11, …, per test file
 * process), so failed logins in one test do not raise Dovecot's auth
 * penalty for the next. Pass a different `block` per test file if two files
 * share a Dovecot.
 */
export function freshLoopback(block = (process.pid % 200) + 20): string {
  nextAddress = nextAddress >= 250 ? 10 : nextAddress + 1;
  return `127.0.${block}.${nextAddress}`;
}

export type ProbeResult = 'ok' | 'no' | 'tempfail' | `error:${string}`;

/**
 * One timed login for load and latency probes: connect (from `localAddress`),
 * LOGIN, then LOGOUT when it succeeded. Never throws: 'ok' | 'no' (refused) |
 * 'tempfail' | 'error:<what>', and the time from connect to the LOGIN answer.
 */
export async function loginProbe(port: number, user: string, password: string, opts: ImapOptions = {}): Promise<{ result: ProbeResult; ms: number }> {
  const t0 = performance.now();
  let session: ImapSession;
  try {
    session = await ImapSession.open(port, opts);
  } catch (e) {
    return { result: `error:${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, ms: NaN };
  }
  try {
    const r = await session.login(user, password);
    const ms = performance.now() - t0;
    if (r.status === 'OK') {
      await session.logout();
      return { result: 'ok', ms };
    }
    session.close();
    if (r.status === 'CLOSED') return { result: 'error:closed', ms: NaN };
    return { result: /UNAVAILABLE|Temporary/i.test(r.line) ? 'tempfail' : r.status === 'NO' ? 'no' : `error:${r.line}`, ms };
  } catch (e) {
    session.close();
    return { result: `error:${(e as Error).message}`, ms: NaN };
  }
}

/** A session that has logged in and stays open (to be kicked); throws unless LOGIN answered OK. */
export async function openSession(port: number, user: string, password: string, opts: ImapOptions = {}): Promise<ImapSession> {
  const session = await ImapSession.open(port, opts);
  const r = await session.login(user, password).catch((e: unknown) => {
    session.close();
    throw e;
  });
  if (r.status !== 'OK') {
    session.close();
    throw new Error(`session LOGIN answered ${r.line || r.status}`);
  }
  return session;
}

/**
 * Every message in the INBOX, as the raw RFC 5322 text (headers and body, lines
 * joined with CRLF), read with BODY.PEEK[] so nothing is marked seen.
 */
export async function readInbox(port: number, user: string, password: string, opts: ImapOptions = {}): Promise<string[]> {
  const s = await ImapSession.open(port, opts);
  try {
    const login = await s.login(user, password);
    if (login.status !== 'OK') throw new Error(`IMAP login of ${user} failed: ${login.line}`);
    const select = await s.command('SELECT INBOX');
    const exists = Number(/^\* (\d+) EXISTS/m.exec(select.untagged.join('\n'))?.[1] ?? 0);
    const messages: string[] = [];
    for (let i = 1; i <= exists; i++) {
      const r = await s.command(`FETCH ${i} BODY.PEEK[]`);
      const start = r.untagged.findIndex((l) => new RegExp(`^\\* ${i} FETCH .*BODY\\[\\] \\{\\d+\\}$`).test(l));
      if (start < 0) throw new Error(`FETCH ${i}: no literal in ${JSON.stringify(r.untagged.slice(0, 3))}`);
      let end = r.untagged.length - 1;
      while (end > start && r.untagged[end] !== ')') end--;
      messages.push(r.untagged.slice(start + 1, end).join('\r\n'));
    }
    return messages;
  } finally {
    await s.logout();
  }
}
