import { usage } from '../core/errors.js';

/** Global flags every command accepts. */
export interface GlobalOptions {
  config?: string;
  json?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain aligned table for humans; `--json` gives the machine form. */
export function printTable(rows: Array<Record<string, unknown>>, columns: string[]): void {
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : v instanceof Date ? v.toISOString() : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const r of rows) process.stdout.write(`${line(columns.map((c) => cell(r[c])))}\n`);
}

/**
 * A table or JSON array printed a page at a time, for lists too long to hold at
 * once. The table's column widths come from the first page (a longer cell later
 * only pushes its line out); the JSON is the same array printJson would print.
 */
export function pagedPrinter(json: boolean, columns: string[]): { page(rows: Array<Record<string, unknown>>): void; end(): void } {
  let first = true;
  let widths: number[] | null = null;
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : v instanceof Date ? v.toISOString() : String(v));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths![i]!)).join('  ').trimEnd();
  return {
    page(rows) {
      if (json) {
        for (const r of rows) {
          process.stdout.write(`${first ? '[\n' : ',\n'}${JSON.stringify(r, null, 2).replace(/^/gm, '  ')}`);
          first = false;
        }
        return;
      }
      if (widths === null) {
        widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
        process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
      }
      for (const r of rows) process.stdout.write(`${line(columns.map((c) => cell(r[c])))}\n`);
    },
    end() {
      if (json) process.stdout.write(first ? '[]\n' : '\n]\n');
      else if (widths === null) this.page([]);
    },
  };
}

/** Rows a paged `list` command reads per query: the default of its --page-size, and the bound. */
export const LIST_PAGE = 500;
export const MAX_LIST_PAGE = 10_000;

/** A --page-size flag's value, 1 to MAX_LIST_PAGE, or a usage error naming it. */
export function pageSizeOf(flag: string): number {
  if (!/^[1-9][0-9]*$/.test(flag) || Number(flag) > MAX_LIST_PAGE) throw usage('invalid_request', `--page-size ${flag}: expected a whole number from 1 to ${MAX_LIST_PAGE}`);
  return Number(flag);
}

export function printLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** All of stdin as bytes, one trailing newline removed (what `echo pw |` and `printf pw` both mean). */
export async function readStdinSecret(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw usage('stdin_too_large', 'standard input is too large for a password');
  }
  let buf = Buffer.concat(chunks);
  if (buf.at(-1) === 0x0a) buf = buf.subarray(0, -1);
  if (buf.at(-1) === 0x0d) buf = buf.subarray(0, -1);
  return buf;
}

/** Reads a line from the terminal without echo (raw mode); Ctrl-C aborts. */
export async function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) throw usage('no_tty', 'no terminal to prompt on: use --password-stdin or --generate');
  process.stderr.write(question);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') {
            input.off('data', onData);
            process.stderr.write('\n');
            return resolve(value);
          }
          if (ch === '\u0003') {
            input.off('data', onData);
            process.stderr.write('\n');
            return reject(usage('aborted', 'aborted'));
          }
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
  }
}

/** A new password from stdin, or typed twice on the terminal. */
export async function readNewPassword(fromStdin: boolean): Promise<Buffer | string> {
  if (fromStdin) return readStdinSecret();
  const first = await promptHidden('New password: ');
  const second = await promptHidden('Repeat new password: ');
  if (first !== second) throw usage('password_mismatch_typed', 'the two passwords typed differ');
  return first;
}
