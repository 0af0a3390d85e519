import { readFileSync } from 'node:fs';
import type { StaticDecode } from '@sinclair/typebox';
import type { ConfigFile, ConfigSchema } from './schema.js';
import { ConfigError } from './errors.js';

/** Where a key's value came from, for error messages and `doctor`. */
export type Source = 'default' | 'file' | 'env' | 'flag';

export type DoveadmTarget =
  | { kind: 'none' }
  | { kind: 'local'; binary: string; configFile: string | null }
  | { kind: 'http'; url: string; apiKey: string };

/** What no single key says: values computed from several keys, and the provenance `doctor` shows. */
export interface Derived {
  /** From `doveadm`, `doveadm_binary`, `doveadm_config` and `doveadm_api_key`. */
  doveadm_target: DoveadmTarget;
  /** `auth.secret`, or the first line of `auth.secret_file`; null: none. */
  auth_secret: string | null;
  /** `self_service.secret`, or the first line of `self_service.secret_file`; null: none (the driver routes are off). */
  self_service_secret: string | null;
  /** The config file read, if any. */
  file: string | null;
  sources: ReadonlyMap<string, Source>;
  /** The validated file form (defaults filled in, nothing decoded), for `doctor`. */
  raw: ConfigFile;
}

type Decoded = StaticDecode<typeof ConfigSchema>;

/**
 * The validated, typed configuration handed down from the edge: the schema's
 * decoded type, read by the keys' own names (`config.auth.max_failures_per_ip`),
 * plus `derived`. The keys that only mean something together with another key
 * are left out of the type and read through `derived`, so that nothing can take
 * `auth.secret` for the secret when `auth.secret_file` holds it.
 */
export type Config = Omit<Decoded, 'auth' | 'self_service' | 'doveadm' | 'doveadm_binary' | 'doveadm_config' | 'doveadm_api_key'> & {
  auth: Omit<Decoded['auth'], 'secret' | 'secret_file'>;
  self_service: Omit<Decoded['self_service'], 'secret' | 'secret_file'>;
  derived: Derived;
};

/** Names where a key's value came from, for a ConfigError: `(from environment MAILPASSD_X)`. */
export type SourceOf = (key: string) => string;

function invalid(key: string, problem: string, from: SourceOf): ConfigError {
  return new ConfigError('config_invalid', `${key}: ${problem} (from ${from(key)})`, { key });
}

export function doveadmTarget(raw: ConfigFile, from: SourceOf): DoveadmTarget {
  if (raw.doveadm === 'none') return { kind: 'none' };
  if (raw.doveadm === 'local') return { kind: 'local', binary: raw.doveadm_binary, configFile: raw.doveadm_config ?? null };
  if (!raw.doveadm_api_key) {
    throw new ConfigError('config_invalid', `doveadm_api_key: required when doveadm is an HTTP URL (from ${from('doveadm')})`, { key: 'doveadm_api_key' });
  }
  return { kind: 'http', url: raw.doveadm, apiKey: raw.doveadm_api_key };
}

/**
 * `auth.secret`, or the first line of `auth.secret_file`. The file form lets the
 * secret live in one file outside mailpassd.toml: Dovecot reads it directly and
 * systemd hands the daemon a copy (LoadCredential=), so neither side needs to
 * read the other's configuration.
 */
export function authSecret(raw: ConfigFile, from: SourceOf): string | null {
  return sharedSecret('auth', raw.auth, from);
}

/** `self_service.secret` or its file: what Roundcube's mailpassd driver presents. */
export function selfServiceSecret(raw: ConfigFile, from: SourceOf): string | null {
  return sharedSecret('self_service', raw.self_service, from);
}

function sharedSecret(section: string, keys: { secret?: string | undefined; secret_file?: string | undefined }, from: SourceOf): string | null {
  const file = keys.secret_file;
  if (file === undefined) return keys.secret ?? null;
  if (keys.secret !== undefined) {
    throw new ConfigError('config_invalid', `${section}.secret_file: set together with ${section}.secret (from ${from(`${section}.secret`)}); keep one`, { key: `${section}.secret_file` });
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw invalid(`${section}.secret_file`, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, from);
  }
  const secret = (text.split('\n')[0] ?? '').trim();
  if (secret.length < 16) throw invalid(`${section}.secret_file`, `the first line of ${file} must hold at least 16 characters`, from);
  return secret;
}

/** Notices name their sender; there is no default that would not be rejected or look forged. */
export function checkNotices(raw: ConfigFile, from: SourceOf): void {
  if (raw.notices.enabled && raw.notices.from === undefined) {
    throw new ConfigError('config_invalid', `notices.from: required when notices are enabled (from ${from('notices.enabled')})`, { key: 'notices.from' });
  }
}
