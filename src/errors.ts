/**
 * Every error that crosses a module boundary carries a stable, machine-readable
 * code. The CLI maps the kind onto its exit status; the HTTP layer onto a status.
 */
export type ErrorKind = 'refused' | 'forbidden' | 'not_found' | 'conflict' | 'unavailable' | 'config' | 'usage' | 'internal';

export class MailpassdError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly kind: ErrorKind,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'MailpassdError';
  }
}

export const notFound = (code: string, message: string) => new MailpassdError(code, message, 'not_found');
export const conflict = (code: string, message: string) => new MailpassdError(code, message, 'conflict');
export const refused = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new MailpassdError(code, message, 'refused', details);
export const usage = (code: string, message: string) => new MailpassdError(code, message, 'usage');
export const unavailable = (code: string, message: string) => new MailpassdError(code, message, 'unavailable');

/** CONTRACT exit statuses: 0 ok, 1 refused, 64 usage, 69 unavailable, 78 config. */
export function exitCodeFor(kind: ErrorKind): number {
  switch (kind) {
    case 'refused':
    case 'forbidden':
    case 'not_found':
    case 'conflict':
      return 1;
    case 'usage':
      return 64;
    case 'unavailable':
      return 69;
    case 'config':
      return 78;
    case 'internal':
      return 70;
  }
}
