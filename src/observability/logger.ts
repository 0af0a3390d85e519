import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Every field name that can carry a secret, at any depth we log. pino removes
 * them before serialisation, so a careless `log.info({ body })` cannot leak.
 */
export const REDACT_PATHS = [
  'password', 'new_password', 'newpass', 'curpass', 'current_password', 'token', 'secret', 'api_key', 'authorization',
  '*.password', '*.new_password', '*.newpass', '*.curpass', '*.current_password', '*.token', '*.secret', '*.api_key', '*.authorization',
  'req.headers.authorization', 'req.headers["x-dovecot-api"]', 'headers.authorization', 'body', '*.body',
  'generated_password', '*.generated_password', 'password_hash', '*.password_hash', 'databaseUrl', 'database_url',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
