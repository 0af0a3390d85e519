import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { ConfigFile } from './schema.js';
import { ConfigError } from './errors.js';
import { parseListen, type Listen } from '../core/listen.js';

/** Where a key's value came from, for error messages and `doctor`. */
export type Source = 'default' | 'file' | 'env' | 'flag';

export type DoveadmTarget =
  | { kind: 'none' }
  | { kind: 'local'; binary: string; configFile: string | null }
  | { kind: 'http'; url: string; apiKey: string };

/** The validated, typed configuration handed down from the edge. */
export interface Config {
  file: string | null;
  sources: ReadonlyMap<string, Source>;
  databaseUrl: string | null;
  dataDir: string;
  nodeId: string;
  logLevel: string;
  httpTimeoutMs: number;
  doveadm: DoveadmTarget;
  auth: {
    listen: Listen;
    secret: string | null;
    argon2Concurrency: number;
    argon2QueueLimit: number;
    memoTtlMs: number;
    memoMaxEntries: number;
    maxFailuresPerUserIp: number;
    maxFailuresPerIp: number;
    maxFailuresPerUser: number;
    throttleWindowMs: number;
    requestTimeoutMs: number;
  };
  admin: { listen: Listen; metricsRequireToken: boolean; openapiRequireToken: boolean };
  selfService: {
    /** Normalised addresses and CIDRs (`a.b.c.d/n`, `x::/n`). */
    trustedProxies: string[];
    /** Normalised origins (`URL.origin`). */
    allowedOrigins: string[];
    maxFailuresPerMailbox: number;
    maxFailuresPerClientIp: number;
    throttleWindowMs: number;
  };
  database: { poolSize: number; connectTimeoutMs: number; statementTimeoutMs: number; poolWaitMs: number };
  hash: { memoryCost: number; timeCost: number; parallelism: number };
  policy: { minLength: number; minClasses: number; minScore: 0 | 1 | 2 | 3 | 4; historyCount: number; maxAgeDays: number | null };
  userdb: { home: string; uid: string; gid: string; mail: string | null };
  rotation: {
    waitMs: number;
    pollIntervalMs: number;
    heartbeatMs: number;
    staleAfterMs: number;
    doveadmTimeoutMs: number;
    retryAttempts: number;
    retentionMs: number;
    pruneIntervalMs: number;
  };
  /** The raw validated file form, for `doctor`. */
  raw: ConfigFile;
}

function checkPort(key: string, listen: Listen, sources: ReadonlyMap<string, Source>): Listen {
  if (listen.kind === 'tcp' && (listen.port < 1 || listen.port > 65535)) {
    throw new ConfigError('config_invalid', `${key}: port ${listen.port} is out of range 1-65535 (from ${sources.get(key) ?? 'default'})`, { key });
  }
  return listen;
}

function doveadmTarget(raw: ConfigFile, sources: ReadonlyMap<string, Source>): DoveadmTarget {
  if (raw.doveadm === 'none') return { kind: 'none' };
  if (raw.doveadm === 'local') return { kind: 'local', binary: raw.doveadm_binary, configFile: raw.doveadm_config ?? null };
  if (!raw.doveadm_api_key) {
    throw new ConfigError('config_invalid', `doveadm_api_key: required when doveadm is an HTTP URL (from ${sources.get('doveadm') ?? 'default'})`, { key: 'doveadm_api_key' });
  }
  return { kind: 'http', url: raw.doveadm, apiKey: raw.doveadm_api_key };
}

const listOf = (value: string) => value.split(',').map((v) => v.trim()).filter(Boolean);

function invalid(key: string, message: string, sources: ReadonlyMap<string, Source>): ConfigError {
  return new ConfigError('config_invalid', `${key}: ${message} (from ${sources.get(key) ?? 'default'})`, { key });
}

/** `addr` or `addr/prefix`, IPv4 or IPv6; a bare address is a /32 or /128. */
function parseCidr(key: string, value: string, sources: ReadonlyMap<string, Source>): string {
  const [addr = '', prefix, ...rest] = value.split('/');
  const family = isIP(addr);
  const max = family === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : Number(prefix);
  if (family === 0 || rest.length > 0 || !/^\d+$/.test(String(bits)) || bits > max) {
    throw invalid(key, `"${value}" is not an IP address or CIDR (e.g. 127.0.0.1, 10.0.0.0/8, ::1)`, sources);
  }
  return `${addr.toLowerCase()}/${bits}`;
}

function parseOrigin(key: string, value: string, sources: ReadonlyMap<string, Source>): string {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    /* reported below */
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw invalid(key, `"${value}" is not an origin (scheme://host[:port], no path)`, sources);
  }
  return url.origin;
}

/**
 * `auth.secret`, or the first line of `auth.secret_file`. The file form lets the
 * secret live in one file outside mailpassd.toml: Dovecot reads it directly and
 * systemd hands the daemon a copy (LoadCredential=), so neither side needs to
 * read the other's configuration.
 */
function authSecret(raw: ConfigFile, sources: ReadonlyMap<string, Source>): string | null {
  const file = raw.auth.secret_file;
  if (file === undefined) return raw.auth.secret ?? null;
  const from = sources.get('auth.secret_file') ?? 'default';
  if (raw.auth.secret !== undefined) {
    throw new ConfigError('config_invalid', `auth.secret_file: set together with auth.secret (from ${sources.get('auth.secret') ?? 'default'}); keep one`, { key: 'auth.secret_file' });
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('config_invalid', `auth.secret_file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (from ${from})`, { key: 'auth.secret_file' });
  }
  const secret = (text.split('\n')[0] ?? '').trim();
  if (secret.length < 16) throw new ConfigError('config_invalid', `auth.secret_file: the first line of ${file} must hold at least 16 characters (from ${from})`, { key: 'auth.secret_file' });
  return secret;
}

export function buildConfig(
  raw: ConfigFile,
  ctx: { file: string | null; sources: ReadonlyMap<string, Source>; defaultNodeId: string; defaultDataDir: string },
): Config {
  const a = raw.auth;
  return {
    file: ctx.file,
    sources: ctx.sources,
    databaseUrl: raw.database_url ?? null,
    dataDir: path.resolve(raw.data_dir ?? ctx.defaultDataDir),
    nodeId: raw.node_id ?? ctx.defaultNodeId,
    logLevel: raw.log_level,
    httpTimeoutMs: raw.http_timeout_ms,
    doveadm: doveadmTarget(raw, ctx.sources),
    auth: {
      listen: checkPort('auth.listen', parseListen(a.listen, a.socket_mode), ctx.sources),
      secret: authSecret(raw, ctx.sources),
      argon2Concurrency: a.argon2_concurrency,
      argon2QueueLimit: a.argon2_queue_limit,
      memoTtlMs: a.memo_ttl_seconds * 1000,
      memoMaxEntries: a.memo_max_entries,
      maxFailuresPerUserIp: a.max_failures_per_user_ip,
      maxFailuresPerIp: a.max_failures_per_ip,
      maxFailuresPerUser: a.max_failures_per_user,
      throttleWindowMs: a.throttle_window_seconds * 1000,
      requestTimeoutMs: a.request_timeout_ms,
    },
    admin: {
      listen: checkPort('admin.listen', parseListen(raw.admin.listen, raw.admin.socket_mode), ctx.sources),
      metricsRequireToken: raw.admin.metrics_require_token,
      openapiRequireToken: raw.admin.openapi_require_token,
    },
    selfService: {
      trustedProxies: listOf(raw.self_service.trusted_proxies).map((v) => parseCidr('self_service.trusted_proxies', v, ctx.sources)),
      allowedOrigins: listOf(raw.self_service.allowed_origins).map((v) => parseOrigin('self_service.allowed_origins', v, ctx.sources)),
      maxFailuresPerMailbox: raw.self_service.max_failures_per_mailbox,
      maxFailuresPerClientIp: raw.self_service.max_failures_per_client_ip,
      throttleWindowMs: raw.self_service.throttle_window_seconds * 1000,
    },
    database: {
      poolSize: raw.database.pool_size,
      connectTimeoutMs: raw.database.connect_timeout_ms,
      statementTimeoutMs: raw.database.statement_timeout_ms,
      poolWaitMs: raw.database.pool_wait_ms,
    },
    hash: { memoryCost: raw.hash.memory_cost, timeCost: raw.hash.time_cost, parallelism: raw.hash.parallelism },
    policy: {
      minLength: raw.policy.min_length,
      minClasses: raw.policy.min_classes,
      minScore: raw.policy.min_score as 0 | 1 | 2 | 3 | 4,
      historyCount: raw.policy.history_count,
      maxAgeDays: raw.policy.max_age_days === 0 ? null : raw.policy.max_age_days,
    },
    userdb: { home: raw.userdb.home, uid: raw.userdb.uid, gid: raw.userdb.gid, mail: raw.userdb.mail ?? null },
    rotation: {
      waitMs: raw.rotation.wait_ms,
      pollIntervalMs: raw.rotation.poll_interval_ms,
      heartbeatMs: raw.rotation.heartbeat_ms,
      staleAfterMs: raw.rotation.stale_after_ms,
      doveadmTimeoutMs: raw.rotation.doveadm_timeout_ms,
      retryAttempts: raw.rotation.retry_attempts,
      retentionMs: raw.rotation.retention_hours * 3_600_000,
      pruneIntervalMs: raw.rotation.prune_interval_ms,
    },
    raw,
  };
}
