import { existsSync, readFileSync } from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ConfigError } from './errors.js';

export { DEFAULT_CONFIG_PATH, resolveConfigPath } from './path.js';

/**
 * Finding and parsing the TOML file. Kept apart from the schema (TypeBox costs
 * over 100 ms to import) so `checkpassword`, forked by Dovecot for every login,
 * can read its two keys without it.
 */
export function readConfigFile(file: string, explicit: boolean): Record<string, unknown> {
  if (!existsSync(file)) {
    if (explicit) throw new ConfigError('config_file_missing', `config file ${file} does not exist`, { source: 'flag' });
    return {};
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('config_file_unreadable', `config file ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? err}`, {});
  }
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const line = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : '';
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError('config_file_invalid', `config file ${file} is not valid TOML${line}: ${reason}`, {});
  }
}

