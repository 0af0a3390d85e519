/**
 * Listener addresses (`host:port`, `[v6]:port`, `unix:/path`), shared by the config
 * schema, the listeners and `checkpassword`. No imports: checkpassword, forked by
 * Dovecot for every login, loads this on its start-up path.
 */
export const LISTEN_PATTERN = '^(unix:/.+|\\[[0-9a-fA-F:.]+\\]:[0-9]{1,5}|[A-Za-z0-9.-]+:[0-9]{1,5})$';
export const DEFAULT_AUTH_LISTEN = '127.0.0.1:7411';

/** Where a listener is. A unix socket's file mode is a key of its own (`socket_mode`). */
export type Listen = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseListen(value: string): Listen {
  if (value.startsWith('unix:')) return { kind: 'unix', path: value.slice(5) };
  const idx = value.lastIndexOf(':');
  const host = value.slice(0, idx).replace(/^\[(.*)\]$/, '$1');
  return { kind: 'tcp', host, port: Number(value.slice(idx + 1)) };
}

export function formatListen(listen: Listen): string {
  if (listen.kind === 'unix') return `unix:${listen.path}`;
  return listen.host.includes(':') ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
}
