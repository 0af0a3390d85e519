import path from 'node:path';
import type { ConfigFile } from './schema.js';
import type { Source } from './load.js';
import { ConfigError } from './errors.js';

export const LISTEN_PATTERN = '^(unix:/.+|\\[[0-9a-fA-F:.]+\\]:[0-9]{1,5}|[A-Za-z0-9.-]+:[0-9]{1,5})$';
export const DEFAULT_AUTH_LISTEN = '127.0.0.1:7411';

export type Listen = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string; mode: number };

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
  admin: { listen: Listen };
  database: { poolSize: number; connectTimeoutMs: number; statementTimeoutMs: number; poolWaitMs: number };
  hash: { memoryCost: number; timeCost: number; parallelism: number };
  policy: { minLength: number; minClasses: number; minScore: 0 | 1 | 2 | 3 | 4; historyCount: number; maxAgeDays: number | null };
  userdb: { home: string; uid: string; gid: string; mail: string | null };
  rotation: { waitMs: number; pollIntervalMs: number; heartbeatMs: number; staleAfterMs: number; doveadmTimeoutMs: number };
  /** The raw validated file form, for `doctor`. */
  raw: ConfigFile;
}

export function parseListen(value: string, mode: string): Listen {
  if (value.startsWith('unix:')) return { kind: 'unix', path: value.slice(5), mode: parseInt(mode, 8) };
  const idx = value.lastIndexOf(':');
  const host = value.slice(0, idx).replace(/^\[(.*)\]$/, '$1');
  return { kind: 'tcp', host, port: Number(value.slice(idx + 1)) };
}

export function formatListen(listen: Listen): string {
  if (listen.kind === 'unix') return `unix:${listen.path}`;
  return listen.host.includes(':') ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
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
      secret: a.secret ?? null,
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
    admin: { listen: checkPort('admin.listen', parseListen(raw.admin.listen, raw.admin.socket_mode), ctx.sources) },
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
    },
    raw,
  };
}
