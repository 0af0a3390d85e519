import { Type, type Static, type TSchema, type TString } from '@sinclair/typebox';
import { existsSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import path from 'node:path';
import { DEFAULT_AUTH_LISTEN, LISTEN_PATTERN, formatListen } from '../core/listen.js';
import { POLICY_RANGES as R } from '../core/policy-limits.js';
import { PACKAGE_ROOT } from './package-root.js';
import { decodeCidr, decodeDays, decodeFileMode, decodeListen, decodeOrigin, decodePublicUrl, encodeFileMode, listOf } from './values.js';

/**
 * The one description of every configuration key: TOML path, type, default and
 * whether it is secret. The environment name is derived from the path
 * (`auth.listen` → `MAILPASSD_AUTH_LISTEN`), so every key has one, and the code
 * reads the key by the same name (`config.auth.listen`): the typed Config is
 * this schema's decoded type (config.ts). A key whose value changes type on the
 * way in (a listener address, a list) says so with a Transform; units stay in
 * the names (`memo_ttl_seconds` is seconds in the code too).
 */
const Int = (min: number, max: number, dflt: number, description: string) =>
  Type.Integer({ minimum: min, maximum: max, default: dflt, description });
const Str = (dflt: string, description: string, extra: object = {}) =>
  Type.String({ default: dflt, description, ...extra });
const OptStr = (description: string, extra: object = {}) => Type.Optional(Type.String({ description, ...extra }));
const Section = <T extends Record<string, TSchema>>(props: T) =>
  Type.Object(props, { additionalProperties: false, default: {} });

/** A string key the code reads as a `T`; `decode` throws an Error saying what is wrong with the value. */
const Decoded = <T>(schema: TString, decode: (value: string) => T, encode: (value: T) => string) =>
  Type.Transform(schema).Decode(decode).Encode(encode);
const ListenKey = (dflt: string, description: string) =>
  Decoded(Str(dflt, description, { pattern: LISTEN_PATTERN }), decodeListen, formatListen);
const SocketMode = (dflt: string, description: string) =>
  Decoded(Str(dflt, description, { pattern: '^0?[0-7]{3}$' }), decodeFileMode, encodeFileMode);
const ListKey = (dflt: string, description: string, item: (value: string) => string) =>
  Decoded(Str(dflt, description), (v) => listOf(v).map(item), (list) => list.join(', '));

/** `./data` in a checkout, /var/lib/mailpassd for an installed package. */
const defaultDataDir = () => (existsSync(path.join(PACKAGE_ROOT, '.git')) ? path.join(PACKAGE_ROOT, 'data') : '/var/lib/mailpassd');

export const ConfigSchema = Type.Object(
  {
    database_url: OptStr('postgres:// URL; unset → embedded PostgreSQL in data_dir', { pattern: '^postgres(ql)?://' }),
    // Relative to the working directory the daemon starts in; the code sees it absolute.
    data_dir: Decoded(Str(defaultDataDir(), 'embedded PostgreSQL data, process key, sockets'), (dir) => path.resolve(dir), (dir) => dir),
    node_id: Str(hostname(), 'this daemon\'s name in the nodes table (default: hostname)', { minLength: 1, maxLength: 200 }),
    log_level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'pino log level' },
    ),
    doveadm: Str('none', 'none | local | http(s)://host:port/doveadm/v1', { pattern: '^(none|local|https?://.+)$' }),
    doveadm_config: OptStr('dovecot.conf passed to doveadm -c (local mode)'),
    doveadm_api_key: OptStr('doveadm HTTP API key (http mode)'),
    doveadm_binary: Str('doveadm', 'doveadm executable (local mode)'),
    http_timeout_ms: Int(500, 300_000, 10_000, 'both listeners: a client must send its headers and body within this time'),
    auth: Section({
      listen: ListenKey(DEFAULT_AUTH_LISTEN, 'auth listener: host:port or unix:/path'),
      secret: OptStr('if set, Dovecot must send Authorization: Bearer <secret>', { minLength: 16 }),
      secret_file: OptStr('or: a file holding that secret (first line), e.g. a systemd credential', { minLength: 1 }),
      socket_mode: SocketMode('0660', 'file mode of a unix: auth socket'),
      argon2_concurrency: Int(1, 256, Math.max(1, availableParallelism()), 'argon2 verifications run at once'),
      argon2_queue_limit: Int(1, 100_000, 256, 'verifications waiting for a slot before refusing with 503'),
      memo_ttl_seconds: Int(0, 86_400, 300, 'verification memo lifetime; 0 disables the memo'),
      memo_max_entries: Int(0, 10_000_000, 100_000, 'verification memo size'),
      max_failures_per_user_ip: Int(1, 1_000_000, 10, 'failed logins per (user, ip) per window before throttling'),
      max_failures_per_ip: Int(1, 1_000_000, 100, 'failed logins per ip (IPv6: per /64) per window before throttling'),
      max_failures_per_user: Int(1, 1_000_000, 50, 'failed logins of one user from all ips per window before throttling (ips that logged the user in within the window are exempt)'),
      throttle_window_seconds: Int(1, 86_400, 300, 'throttle window'),
      request_timeout_ms: Int(100, 120_000, 5_000, 'a verify that takes longer answers internal_failure'),
    }),
    admin: Section({
      listen: ListenKey('127.0.0.1:7412', 'admin listener: host:port or unix:/path'),
      socket_mode: SocketMode('0600', 'file mode of a unix: admin socket'),
      metrics_require_token: Type.Boolean({ default: false, description: '/metrics answers only with a valid global bearer token' }),
      openapi_require_token: Type.Boolean({ default: false, description: '/openapi.json answers only with a valid bearer token' }),
    }),
    self_service: Section({
      // Read as lists, normalised: `addr/prefix` and `URL.origin`.
      trusted_proxies: ListKey('127.0.0.0/8, ::1', 'addresses or CIDRs (comma-separated) whose X-Forwarded-For names the end user\'s address; empty: none', decodeCidr),
      allowed_origins: ListKey('', 'browser origins (scheme://host[:port], comma-separated) allowed besides the admin listener\'s own', decodeOrigin),
      max_failures_per_mailbox: Int(1, 1_000_000, 10, 'wrong current passwords per mailbox per window, from all clients'),
      max_failures_per_client_ip: Int(1, 1_000_000, 30, 'wrong current passwords per forwarded end-user address per window'),
      throttle_window_seconds: Int(1, 86_400, 900, 'self-service throttle window'),
      secret: OptStr('if set, the mailpassd Roundcube driver\'s routes (change, policy, policy-check) answer a caller sending Authorization: Bearer <secret>', { minLength: 16 }),
      secret_file: OptStr('or: a file holding that secret (first line)', { minLength: 1 }),
      max_checks_per_mailbox: Int(1, 1_000_000, 60, 'policy checks of candidate passwords per mailbox per window'),
    }),
    database: Section({
      pool_size: Int(1, 1000, 10, 'connections per daemon'),
      connect_timeout_ms: Int(100, 60_000, 2_000, 'allowed for opening a new connection (a checkout waits the longer of this and pool_wait_ms)'),
      statement_timeout_ms: Int(100, 600_000, 3_000, 'server-side statement timeout'),
      pool_wait_ms: Int(10, 60_000, 1_000, 'allowed for a free pooled connection when all are busy, before answering 503'),
    }),
    hash: Section({
      memory_cost: Int(1024, 4_194_304, 19_456, 'argon2id memory in KiB (OWASP: 19456)'),
      time_cost: Int(1, 100, 2, 'argon2id iterations (OWASP: 2)'),
      parallelism: Int(1, 64, 1, 'argon2id lanes (OWASP: 1)'),
    }),
    policy: Section({
      min_length: Int(R.minLength.min, R.minLength.max, 12, 'minimum password length in characters'),
      min_classes: Int(R.minClasses.min, R.minClasses.max, 1, 'character classes required (lower, upper, digit, other)'),
      // The range check makes the zxcvbn score type exact.
      min_score: Type.Transform(Int(R.minScore.min, R.minScore.max, 3, 'minimum zxcvbn strength score'))
        .Decode((score) => score as 0 | 1 | 2 | 3 | 4)
        .Encode((score) => score),
      history_count: Int(R.historyCount.min, R.historyCount.max, 5, 'previous passwords that may not be reused'),
      // 0 is how the config says what a domain override says with null; the code sees null.
      max_age_days: Type.Transform(Int(0, R.maxAgeDays.max, 0, 'password lifetime in days; 0 = never expires'))
        .Decode((days) => (days === 0 ? null : days))
        .Encode((days) => days ?? 0),
    }),
    userdb: Section({
      home: Str('/var/vmail/%d/%n', 'home template: %u address, %n local part, %d domain'),
      uid: Str('5000', 'default uid'),
      gid: Str('5000', 'default gid'),
      mail: OptStr('default mail location template, e.g. maildir:~/Maildir'),
    }),
    app_passwords: Section({
      webmail_ips: ListKey('', 'webmail hosts (addresses or CIDRs, comma-separated) whose logins may use the main password where app passwords are required; empty: none', decodeCidr),
      last_used_flush_ms: Int(100, 600_000, 5_000, 'app passwords\' last-used times are kept in memory and written this often (and on shutdown)'),
      expiry_sweep_interval_ms: Int(100, 3_600_000, 30_000, 'how often the cluster looks for app passwords that expired since the last look and flushes them from every Dovecot\'s auth cache (one daemon at a time); at most this long an expired app password may still work from a cache'),
      kick_by_field: Type.Boolean({ default: false, description: 'revoking an app password kicks only its sessions (doveadm kick -f user_app_password; Dovecot >= 2.4); false: all the mailbox\'s sessions' }),
    }),
    console: Section({
      enabled: Type.Boolean({ default: true, description: 'serve the web console on the admin listener' }),
      idle_timeout_minutes: Int(1, 10_080, 30, 'a console session unused for this long ends'),
      absolute_timeout_hours: Int(1, 8_760, 12, 'a console session ends this long after sign-in, used or not'),
      trusted_proxies: ListKey('', 'addresses or CIDRs (comma-separated) whose X-Forwarded-For / -Proto / -Host the console believes; empty: none', decodeCidr),
      public_url: Decoded(Str('', 'the console\'s public URL, e.g. https://mail.example.net/ (Origin checks, links in mail notices); empty: the request\'s own'), decodePublicUrl, (url) => url),
      require_totp_for_admins: Type.Boolean({ default: false, description: 'an admin without a second factor (TOTP) is sent to enrol it and can reach nothing else until then' }),
    }),
    rotation: Section({
      wait_ms: Int(0, 120_000, 10_000, 'how long rotate waits for nodes by default'),
      poll_interval_ms: Int(50, 60_000, 1_000, 'invalidation log polling when NOTIFY is missed'),
      heartbeat_ms: Int(100, 60_000, 2_000, 'node heartbeat interval'),
      stale_after_ms: Int(500, 600_000, 10_000, 'a node without heartbeat for this long is stale'),
      doveadm_timeout_ms: Int(100, 60_000, 5_000, 'per doveadm call'),
      retry_attempts: Int(1, 10_000, 10, 'attempts per invalidation (one per poll interval) before a node records it as failed there and moves on'),
      retention_hours: Int(0, 876_000, 720, 'invalidation log entries every registered node has passed are kept this long (audit trail), then pruned'),
      prune_interval_ms: Int(1_000, 86_400_000, 600_000, 'how often a daemon prunes the invalidation log and the audit log (one daemon at a time)'),
    }),
    retention: Section({
      audit_days: Int(0, 36_500, 365, 'audit log entries older than this are pruned; 0 = kept for ever. Entries younger stay append-only (the database refuses their UPDATE and DELETE)'),
      batch_rows: Int(100, 1_000_000, 5_000, 'rows deleted per statement when pruning (short transactions: a backlog never holds locks for long)'),
    }),
    notices: Section({
      // Off by default: there is no right default sender (notices.from), and a
      // backlog queued while the relay is unknown would go out in a burst later.
      enabled: Type.Boolean({ default: false, description: 'mail a notice after every password change and reminders before expiry (needs notices.from)' }),
      from: OptStr('From: of the notices, e.g. "Mail accounts <noreply@example.org>" (required when enabled)', { minLength: 3, pattern: '@' }),
      change_url: OptStr('where a user changes the password (webmail or console URL), named in the notices', { pattern: '^https?://' }),
      smtp_host: Str('127.0.0.1', 'SMTP relay the notices are handed to (the local Postfix)', { minLength: 1 }),
      smtp_port: Int(1, 65_535, 25, 'SMTP relay port'),
      smtp_starttls: Type.Boolean({ default: false, description: 'require STARTTLS with a verified certificate (a remote relay); off: plain SMTP, for a relay on loopback' }),
      smtp_timeout_ms: Int(100, 300_000, 15_000, 'connecting to and talking with the relay, per message'),
      reminder_days: Decoded(
        Str('14, 3, 1', 'days before a password expires (max_age_days) that a reminder is sent; one is also sent on the day it expires'),
        (v) => [...new Set([...listOf(v).map(decodeDays), 0])].sort((a, b) => b - a),
        (days) => days.filter((d) => d > 0).join(', '),
      ),
      poll_interval_ms: Int(100, 600_000, 2_000, 'how often a daemon looks for queued notices'),
      scan_interval_ms: Int(1_000, 86_400_000, 600_000, 'how often the cluster looks for passwords due a reminder (one node at a time)'),
      retry_base_seconds: Int(1, 86_400, 60, 'first retry after the relay failed; doubled per attempt'),
      retry_max_seconds: Int(1, 604_800, 3_600, 'longest wait between retries'),
      max_attempts: Int(1, 10_000, 48, 'attempts before a notice is recorded as failed'),
      lease_seconds: Int(10, 86_400, 300, 'a notice claimed by a node that died before marking it is taken over after this long (it may then arrive twice; see README)'),
      retention_days: Int(0, 36_500, 30, 'sent and failed notices are kept this long, then pruned'),
    }),
  },
  { additionalProperties: false },
);

/** The file form: what the TOML, the environment and the defaults give, validated, before decoding. */
export type ConfigFile = Static<typeof ConfigSchema>;

/** Keys whose values `doctor` masks and logs never show. */
export const SECRET_KEYS = new Set(['auth.secret', 'self_service.secret', 'doveadm_api_key', 'database_url']);
