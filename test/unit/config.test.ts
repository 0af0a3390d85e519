import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TransformKind, type TSchema } from '@sinclair/typebox';
import { loadConfig, ConfigError, CONFIG_KEYS, envNameOf } from '../../src/config/index.js';
import { POLICY_RANGES } from '../../src/core/policy-limits.js';
import { parsePolicyOverrides } from '../../src/policy/settings.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('config');
afterAll(() => tmp.remove());
const file = (name: string, text: string) => {
  const p = path.join(tmp.dir, name);
  writeFileSync(p, text);
  return p;
};
const load = (opts: Parameters<typeof loadConfig>[0]) => loadConfig({ env: {}, ...opts });
const failure = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('config', () => {
  it('has CONTRACT defaults without any file or environment', () => {
    const c = load({ configPath: null });
    expect(c.database_url).toBeUndefined();
    expect(c.auth.listen).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 7411 });
    expect(c.admin.listen).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 7412 });
    expect(c.derived.doveadm_target).toEqual({ kind: 'none' });
    expect(c.hash).toEqual({ memory_cost: 19456, time_cost: 2, parallelism: 1 });
    expect(c.policy).toMatchObject({ min_length: 12, history_count: 5, max_age_days: null });
    expect(c.log_level).toBe('info');
  });

  it('every key has an environment form, including the CONTRACT names', () => {
    const names = CONFIG_KEYS.map((k) => envNameOf(k.key));
    for (const n of ['MAILPASSD_DATABASE_URL', 'MAILPASSD_DATA_DIR', 'MAILPASSD_AUTH_LISTEN', 'MAILPASSD_AUTH_SECRET', 'MAILPASSD_ADMIN_LISTEN', 'MAILPASSD_NODE_ID', 'MAILPASSD_DOVEADM', 'MAILPASSD_DOVEADM_CONFIG', 'MAILPASSD_DOVEADM_API_KEY', 'MAILPASSD_LOG_LEVEL']) {
      expect(names).toContain(n);
    }
  });

  it('one name per setting: the code reads each key at its TOML path, as the environment set it', () => {
    // Every plain number and switch (a Transform changes a value's type; those are tested below).
    const plain = CONFIG_KEYS.filter(({ schema }) => !(TransformKind in schema) && (schema.type === 'integer' || schema.type === 'boolean'));
    expect(plain.length).toBeGreaterThan(30);
    const value = (schema: TSchema) => (schema.type === 'boolean' ? !schema.default : (schema.maximum as number));
    // notices.enabled = true needs its sender (checked with the other keys, below).
    const env = { ...Object.fromEntries(plain.map(({ key, schema }) => [envNameOf(key), String(value(schema))])), MAILPASSD_NOTICES_FROM: 'noreply@example.org' };
    const c = load({ configPath: null, env });
    for (const { key, schema } of plain) {
      expect(key.split('.').reduce<any>((node, part) => node[part], c), key).toBe(value(schema));
    }
    expect(c.auth.max_failures_per_user_ip).toBe(1_000_000);
  });

  it('decodes what changes type on the way in, and reads combined keys through derived', () => {
    const c = load({ configPath: null, env: { MAILPASSD_AUTH_LISTEN: 'unix:/run/mailpassd/auth.sock', MAILPASSD_AUTH_SOCKET_MODE: '660', MAILPASSD_POLICY_MAX_AGE_DAYS: '90', MAILPASSD_AUTH_SECRET: 'sixteen-chars-or-more' } });
    expect(c.auth.listen).toEqual({ kind: 'unix', path: '/run/mailpassd/auth.sock' });
    expect(c.auth.socket_mode).toBe(0o660);
    expect(c.policy.max_age_days).toBe(90);
    expect(load({ configPath: null }).policy.max_age_days).toBeNull();
    expect(c.derived.auth_secret).toBe('sixteen-chars-or-more');
    // doctor shows the file form: what an operator writes.
    expect(c.derived.raw.auth).toMatchObject({ listen: 'unix:/run/mailpassd/auth.sock', socket_mode: '660', secret: 'sixteen-chars-or-more' });
    // @ts-expect-error the secret is read through derived.auth_secret, which also knows auth.secret_file
    void c.auth.secret;
    // @ts-expect-error the doveadm keys are read together, as derived.doveadm_target
    void c.doveadm_api_key;
  });

  it('notices: off by default; on without a sender is refused naming notices.from; reminder days decode to a list with the expiry day', () => {
    const c = load({ configPath: null });
    expect(c.notices).toMatchObject({ enabled: false, smtp_host: '127.0.0.1', smtp_port: 25, reminder_days: [14, 3, 1, 0] });
    expect(() => load({ configPath: null, env: { MAILPASSD_NOTICES_ENABLED: 'true' } })).toThrow(/^notices\.from: required when notices are enabled/);
    const on = load({ configPath: null, env: { MAILPASSD_NOTICES_ENABLED: 'true', MAILPASSD_NOTICES_FROM: 'Accounts <noreply@example.org>', MAILPASSD_NOTICES_REMINDER_DAYS: '7, 30,7' } });
    expect(on.notices.reminder_days).toEqual([30, 7, 0]);
    expect(() => load({ configPath: null, env: { MAILPASSD_NOTICES_REMINDER_DAYS: '3, soon' } })).toThrow(/notices\.reminder_days: "soon" is not a number of days/);
  });

  it('applies flags > environment > file > defaults', () => {
    const f = file('prec.toml', 'node_id = "from-file"\nlog_level = "warn"\n[auth]\nlisten = "127.0.0.1:1001"\n[admin]\nlisten = "127.0.0.1:2001"\n');
    const c = load({ configPath: f, env: { MAILPASSD_AUTH_LISTEN: 'unix:/run/x.sock', MAILPASSD_NODE_ID: 'from-env' }, flags: { node_id: 'from-flag' } });
    expect(c.auth.listen).toMatchObject({ kind: 'unix', path: '/run/x.sock' });
    expect(c.admin.listen).toMatchObject({ port: 2001 });
    expect(c.node_id).toBe('from-flag');
    expect(c.log_level).toBe('warn');
    expect(c.derived.sources.get('auth.listen')).toBe('env');
    expect(c.derived.sources.get('admin.listen')).toBe('file');
  });

  it('converts numbers from the environment and refuses a wrong one naming key and source', () => {
    expect(load({ configPath: null, env: { MAILPASSD_POLICY_MIN_LENGTH: '16' } }).policy.min_length).toBe(16);
    const e = failure(() => load({ configPath: null, env: { MAILPASSD_POLICY_MIN_LENGTH: 'twelve' } }));
    expect(e.message).toMatch(/^policy\.min_length: .*\(from environment MAILPASSD_POLICY_MIN_LENGTH\)$/);
    expect(e.kind).toBe('config');
  });

  it('holds the global policy to the limits of a per-domain override: min_classes 0-4 in both', () => {
    expect(load({ configPath: null, env: { MAILPASSD_POLICY_MIN_CLASSES: '0' } }).policy.min_classes).toBe(0);
    expect(parsePolicyOverrides({ minClasses: 0 })).toEqual({ minClasses: 0 });
    const envOf = (key: string) => `MAILPASSD_POLICY_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    for (const [key, { min, max }] of Object.entries(POLICY_RANGES)) {
      // The config spells "never expires" 0 where an override says null.
      const lowest = key === 'maxAgeDays' ? 0 : min;
      for (const ok of [lowest, max]) expect(() => load({ configPath: null, env: { [envOf(key)]: String(ok) } }), `${key} ${ok}`).not.toThrow();
      for (const bad of [lowest - 1, max + 1]) expect(failure(() => load({ configPath: null, env: { [envOf(key)]: String(bad) } })).message).toContain(envOf(key));
      for (const ok of [min, max]) expect(parsePolicyOverrides({ [key]: ok })).toEqual({ [key]: ok });
      for (const bad of [min - 1, max + 1]) expect(() => parsePolicyOverrides({ [key]: bad }), `${key} ${bad}`).toThrow(`"${key}"`);
    }
  });

  it('refuses a bad value in the file with the file named', () => {
    const f = file('bad.toml', '[auth]\nlisten = "nowhere"\n');
    const e = failure(() => load({ configPath: f }));
    expect(e.message).toContain('auth.listen');
    expect(e.message).toContain(`file ${f}`);
  });

  it('refuses unknown keys in the file and unknown MAILPASSD_* variables', () => {
    expect(failure(() => load({ configPath: file('unk.toml', '[auth]\nlisen = "x"\n') })).message).toMatch(/auth\.lisen: unknown key/);
    expect(failure(() => load({ configPath: null, env: { MAILPASSD_AUTH_LISEN: 'x' } })).message).toMatch(/MAILPASSD_AUTH_LISEN: unknown/);
    expect(load({ configPath: null, env: { MAILPASSD_AUTH_URL: 'x' }, ignoreUnknownEnv: true }).auth.listen.kind).toBe('tcp');
  });

  it('a missing explicit file, and invalid TOML with its line number, are config errors', () => {
    expect(failure(() => load({ configPath: path.join(tmp.dir, 'absent.toml') })).message).toMatch(/does not exist/);
    const e = failure(() => load({ configPath: file('broken.toml', 'log_level = "info"\n[auth\nlisten = 1\n') }));
    expect(e.message).toMatch(/not valid TOML at line 2/);
  });

  it('requires an API key for the doveadm HTTP form, and parses every doveadm form', () => {
    expect(failure(() => load({ configPath: null, env: { MAILPASSD_DOVEADM: 'http://127.0.0.1:8080/doveadm/v1' } })).message).toMatch(/doveadm_api_key/);
    expect(load({ configPath: null, env: { MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_CONFIG: '/etc/dovecot/dovecot.conf' } }).derived.doveadm_target).toEqual({
      kind: 'local',
      binary: 'doveadm',
      configFile: '/etc/dovecot/dovecot.conf',
    });
    expect(failure(() => load({ configPath: null, env: { MAILPASSD_DOVEADM: 'ftp://x' } })).message).toMatch(/^doveadm:/);
  });

  it('refuses out-of-range ports and short secrets', () => {
    expect(failure(() => load({ configPath: null, env: { MAILPASSD_ADMIN_LISTEN: '127.0.0.1:70000' } })).message).toMatch(/admin\.listen: port 70000/);
    expect(failure(() => load({ configPath: null, env: { MAILPASSD_AUTH_SECRET: 'short' } })).message).toMatch(/auth\.secret/);
  });

  it('self_service: loopback proxies trusted by default; addresses, CIDRs and origins are validated and normalised', () => {
    expect(load({ configPath: null }).self_service).toEqual({
      trusted_proxies: ['127.0.0.0/8', '::1/128'],
      allowed_origins: [],
      max_failures_per_mailbox: 10,
      max_failures_per_client_ip: 30,
      throttle_window_seconds: 900,
      max_checks_per_mailbox: 60,
    });
    const c = load({ env: { MAILPASSD_SELF_SERVICE_TRUSTED_PROXIES: '10.1.2.3, fd00::/8', MAILPASSD_SELF_SERVICE_ALLOWED_ORIGINS: 'https://Webmail.Example' } });
    expect(c.self_service.trusted_proxies).toEqual(['10.1.2.3/32', 'fd00::/8']);
    expect(c.self_service.allowed_origins).toEqual(['https://webmail.example']);
    expect(load({ env: { MAILPASSD_SELF_SERVICE_TRUSTED_PROXIES: '' } }).self_service.trusted_proxies).toEqual([]);
    for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '1.2.3.4/x']) {
      const err = failure(() => load({ env: { MAILPASSD_SELF_SERVICE_TRUSTED_PROXIES: bad } }));
      expect(err.message).toMatch(/^self_service\.trusted_proxies: .* is not an IP address or CIDR/);
    }
    for (const bad of ['webmail.example', 'https://webmail.example/roundcube', 'ftp://webmail.example']) {
      expect(failure(() => load({ env: { MAILPASSD_SELF_SERVICE_ALLOWED_ORIGINS: bad } })).message).toMatch(/^self_service\.allowed_origins: .* is not an origin/);
    }
  });

  it('reads MAILPASSD_CONFIG when no --config is given', () => {
    const f = file('envpath.toml', 'node_id = "via-env-path"\n');
    expect(load({ env: { MAILPASSD_CONFIG: f } }).node_id).toBe('via-env-path');
  });
});

describe('auth.secret_file and the admin exposure switches', () => {
  it('reads the secret from the first line of auth.secret_file (a systemd credential)', () => {
    const f = file('auth.secret', 'file-held-secret-0123456789\nsecond line ignored\n');
    expect(load({ configPath: null, env: { MAILPASSD_AUTH_SECRET_FILE: f } }).derived.auth_secret).toBe('file-held-secret-0123456789');
  });

  it('refuses an unreadable or short secret file, and both forms at once, naming the key', () => {
    expect(failure(() => load({ configPath: null, env: { MAILPASSD_AUTH_SECRET_FILE: path.join(tmp.dir, 'absent.secret') } })).message).toMatch(/^auth\.secret_file: cannot read .*ENOENT/);
    expect(failure(() => load({ configPath: null, env: { MAILPASSD_AUTH_SECRET_FILE: file('short.secret', 'short\n') } })).message).toMatch(/^auth\.secret_file: .*at least 16/);
    const both = failure(() => load({ configPath: file('both.toml', '[auth]\nsecret = "in-the-file-0123456789"\n'), env: { MAILPASSD_AUTH_SECRET_FILE: file('b.secret', 'file-held-secret-0123456789\n') } }));
    expect(both.message).toMatch(/^auth\.secret_file: set together with auth\.secret/);
  });

  it('self_service.secret (the Roundcube driver\'s) from the environment or the first line of self_service.secret_file; unset: null', () => {
    expect(load({ configPath: null }).derived.self_service_secret).toBeNull();
    expect(load({ configPath: null, env: { MAILPASSD_SELF_SERVICE_SECRET: 'driver-secret-0123456789' } }).derived.self_service_secret).toBe('driver-secret-0123456789');
    const f = file('ss.secret', 'driver-file-secret-0123456789\n');
    expect(load({ configPath: null, env: { MAILPASSD_SELF_SERVICE_SECRET_FILE: f } }).derived.self_service_secret).toBe('driver-file-secret-0123456789');
    expect(failure(() => load({ configPath: null, env: { MAILPASSD_SELF_SERVICE_SECRET: 'short' } })).message).toMatch(/^self_service\.secret/);
    expect(failure(() => load({ configPath: null, env: { MAILPASSD_SELF_SERVICE_SECRET_FILE: file('ss-short.secret', 'short\n') } })).message).toMatch(/^self_service\.secret_file: .*at least 16/);
    const both = failure(() => load({ configPath: null, env: { MAILPASSD_SELF_SERVICE_SECRET: 'driver-secret-0123456789', MAILPASSD_SELF_SERVICE_SECRET_FILE: f } }));
    expect(both.message).toMatch(/^self_service\.secret_file: set together with self_service\.secret/);
  });

  it('metrics and openapi are public by default; the switches take true/false from the environment', () => {
    expect(load({ configPath: null }).admin).toMatchObject({ metrics_require_token: false, openapi_require_token: false });
    const on = load({ configPath: null, env: { MAILPASSD_ADMIN_METRICS_REQUIRE_TOKEN: 'true', MAILPASSD_ADMIN_OPENAPI_REQUIRE_TOKEN: 'true' } });
    expect(on.admin).toMatchObject({ metrics_require_token: true, openapi_require_token: true });
  });
});

describe('config/mailpassd.toml.example', () => {
  it('documents every key with its environment name, and loads when uncommented', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(path.join(__dirname, '..', '..', 'config', 'mailpassd.toml.example'), 'utf8');
    for (const { key } of CONFIG_KEYS) expect(text, key).toContain(envNameOf(key));
    // Uncomment every assignment except secrets/URLs that must be real values, and load it.
    const uncommented = text
      .split('\n')
      .map((l) => (/^# [a-z_]+ = /.test(l) && !/= ""/.test(l) && !/database_url|doveadm_api_key/.test(l) ? l.slice(2).replace(/\s+#.*$/, '') : l))
      .join('\n');
    const f = file('example.toml', uncommented);
    const c = load({ configPath: f });
    expect(c.auth.listen).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 7411 });
    expect(c.data_dir).toBe('/var/lib/mailpassd');
  });
});
