import { existsSync } from 'node:fs';
import { TransformDecodeError, Value } from '@sinclair/typebox/value';
import { type StaticDecode, type TSchema, type TObject, Kind } from '@sinclair/typebox';
import { ConfigSchema, type ConfigFile } from './schema.js';
import { ConfigError } from './errors.js';
import { readConfigFile, resolveConfigPath } from './file.js';
import { authSecret, checkNotices, doveadmTarget, selfServiceSecret, type Config, type Source, type SourceOf } from './config.js';

export interface LoadOptions {
  /** `--config PATH`; null reads no file at all (tests, embedding). */
  configPath?: string | null | undefined;
  env?: NodeJS.ProcessEnv;
  /** Command-line overrides keyed by dotted path (`auth.listen`). */
  flags?: Record<string, string | number | boolean | undefined>;
  /** checkpassword runs inside Dovecot's environment and must tolerate foreign MAILPASSD_* names. */
  ignoreUnknownEnv?: boolean;
}

/** Every leaf key of the schema, as a dotted path with its schema. */
function leafKeys(schema: TObject, prefix = ''): Array<{ key: string; schema: TSchema }> {
  return Object.entries(schema.properties).flatMap(([name, sub]) => {
    const key = prefix ? `${prefix}.${name}` : name;
    return sub[Kind] === 'Object' ? leafKeys(sub as TObject, key) : [{ key, schema: sub }];
  });
}

export const CONFIG_KEYS = leafKeys(ConfigSchema);
export const envNameOf = (key: string) => `MAILPASSD_${key.replace(/\./g, '_').toUpperCase()}`;

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function collectFileKeys(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => collectFileKeys(v, prefix ? `${prefix}.${k}` : k));
}

/**
 * Reads defaults < file < environment < flags, validates the result against the
 * schema once, and returns the typed config. Any problem is a ConfigError that
 * names the key, the problem and where the value came from.
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const { file, explicit } = resolveConfigPath(opts.configPath, env);
  const raw: Record<string, unknown> = {};
  const sources = new Map<string, Source>();
  const known = new Map(CONFIG_KEYS.map((k) => [k.key, k.schema]));

  const fileValues = file === null ? {} : readConfigFile(file, explicit);
  for (const key of collectFileKeys(fileValues)) {
    if (!known.has(key)) throw new ConfigError('config_unknown_key', `${key}: unknown key in ${file}`, { key, source: 'file' });
    setPath(raw, key, key.split('.').reduce<unknown>((v, p) => (v as Record<string, unknown>)[p], fileValues));
    sources.set(key, 'file');
  }

  const envNames = new Map(CONFIG_KEYS.map((k) => [envNameOf(k.key), k.key]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('MAILPASSD_') || name === 'MAILPASSD_CONFIG' || value === undefined) continue;
    const key = envNames.get(name);
    if (!key) {
      if (opts.ignoreUnknownEnv) continue;
      throw new ConfigError('config_unknown_key', `${name}: unknown environment variable`, { key: name, source: 'env' });
    }
    setPath(raw, key, Value.Convert(known.get(key)!, value));
    sources.set(key, 'env');
  }

  for (const [key, value] of Object.entries(opts.flags ?? {})) {
    if (value === undefined) continue;
    setPath(raw, key, Value.Convert(known.get(key)!, value));
    sources.set(key, 'flag');
  }

  const from: SourceOf = (key) => {
    const source = sources.get(key) ?? 'default';
    return source === 'env' ? `environment ${envNameOf(key)}` : source === 'file' ? `file ${file}` : source;
  };
  const invalid = (path: string, problem: string) => {
    const key = path.replace(/^\//, '').replace(/\//g, '.');
    return new ConfigError('config_invalid', `${key}: ${problem} (from ${from(key)})`, { key, source: sources.get(key) ?? 'default' });
  };

  const withDefaults = Value.Default(ConfigSchema, raw) as ConfigFile;
  const first = Value.Errors(ConfigSchema, withDefaults).First();
  if (first) throw invalid(first.path, first.message);
  // Decoding copies: withDefaults stays the file form `doctor` shows.
  let decoded: StaticDecode<typeof ConfigSchema>;
  try {
    decoded = Value.Decode(ConfigSchema, withDefaults);
  } catch (err) {
    if (err instanceof TransformDecodeError) throw invalid(err.path, err.message);
    throw err;
  }
  checkNotices(withDefaults, from);
  return {
    ...decoded,
    derived: {
      doveadm_target: doveadmTarget(withDefaults, from),
      auth_secret: authSecret(withDefaults, from),
      self_service_secret: selfServiceSecret(withDefaults, from),
      file: file !== null && existsSync(file) ? file : null,
      sources,
      raw: withDefaults,
    },
  };
}
