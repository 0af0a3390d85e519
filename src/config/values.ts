import { isIP } from 'node:net';
import { parseListen, type Listen } from '../core/listen.js';

/**
 * The values whose type changes when the schema decodes them. Each throws a
 * plain Error saying only what is wrong with the value; the loader adds the key
 * and where the value came from.
 */

/** `host:port` or `unix:/path` (the schema's pattern has checked the form). */
export function decodeListen(value: string): Listen {
  const listen = parseListen(value);
  if (listen.kind === 'tcp' && (listen.port < 1 || listen.port > 65535)) throw new Error(`port ${listen.port} is out of range 1-65535`);
  return listen;
}

/** `0660` or `660` (the schema's pattern has checked the digits). */
export const decodeFileMode = (value: string): number => parseInt(value, 8);
export const encodeFileMode = (mode: number): string => `0${mode.toString(8)}`;

/** A comma-separated list, blanks dropped: `""` is the empty list. */
export const listOf = (value: string): string[] =>
  value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);

/** `addr` or `addr/prefix`, IPv4 or IPv6, normalised to `addr/prefix`; a bare address is a /32 or /128. */
export function decodeCidr(value: string): string {
  const [addr = '', prefix, ...rest] = value.split('/');
  const family = isIP(addr);
  const max = family === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : Number(prefix);
  if (family === 0 || rest.length > 0 || !/^\d+$/.test(String(bits)) || bits > max) {
    throw new Error(`"${value}" is not an IP address or CIDR (e.g. 127.0.0.1, 10.0.0.0/8, ::1)`);
  }
  return `${addr.toLowerCase()}/${bits}`;
}

/** `scheme://host[:port]`, normalised as `URL.origin` (lower case, default port dropped). */
export function decodeOrigin(value: string): string {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    /* reported below */
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new Error(`"${value}" is not an origin (scheme://host[:port], no path)`);
  }
  return url.origin;
}

/** `""` (unset) or an http(s) URL without query or fragment, normalised with a trailing `/`. */
export function decodePublicUrl(value: string): string {
  if (value === '') return '';
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    /* reported below */
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.search || url.hash || url.username || url.password) {
    throw new Error(`"${value}" is not an http(s) URL without query or fragment (e.g. https://mail.example.net/)`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}
