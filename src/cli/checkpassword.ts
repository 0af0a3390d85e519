import { DEFAULT_AUTH_LISTEN, LISTEN_PATTERN, formatListen, parseListen } from '../core/listen.js';
import { ConfigError } from '../config/errors.js';
import { existsSync, readFileSync } from 'node:fs';
import { resolveConfigPath } from '../config/path.js';
import { runCheckpassword, EXIT_TEMPFAIL, type CheckpasswordTarget } from '../dovecot/checkpassword/run.js';

/**
 * Where the auth listener is: `auth.listen` and `auth.secret` (or
 * `auth.secret_file`) with the usual
 * precedence (environment > file > default). This reads only those two keys,
 * without the TypeBox schema the full loader uses, and opens the TOML file only
 * when the environment leaves something to find there: Dovecot forks
 * checkpassword for every login (the schema alone costs over 100 ms to import,
 * the TOML parser about 20 ms).
 */
async function authTarget(configPath: string | undefined, env: NodeJS.ProcessEnv): Promise<CheckpasswordTarget> {
  const section = await authSectionIfNeeded(configPath, env);
  const listen = env.MAILPASSD_AUTH_LISTEN ?? section?.listen ?? DEFAULT_AUTH_LISTEN;
  const secretFile = env.MAILPASSD_AUTH_SECRET_FILE || (env.MAILPASSD_AUTH_SECRET === undefined ? section?.secret_file : undefined);
  const secret = secretFile !== undefined ? readSecretFile(secretFile) : (env.MAILPASSD_AUTH_SECRET ?? section?.secret ?? null);
  if (typeof listen !== 'string' || !new RegExp(LISTEN_PATTERN).test(listen)) {
    throw new ConfigError('config_invalid', `auth.listen: ${JSON.stringify(listen)} is not host:port or unix:/path`, { key: 'auth.listen' });
  }
  if (secret !== null && typeof secret !== 'string') throw new ConfigError('config_invalid', 'auth.secret: must be a string', { key: 'auth.secret' });
  const where = parseListen(listen);
  return { authUrl: where.kind === 'unix' ? formatListen(where) : `http://${formatListen(where)}`, secret };
}

/** The first line of auth.secret_file (the file Dovecot's Lua script reads too). */
function readSecretFile(file: unknown): string {
  if (typeof file !== 'string' || file === '') throw new ConfigError('config_invalid', 'auth.secret_file: must be a path', { key: 'auth.secret_file' });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('config_invalid', `auth.secret_file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { key: 'auth.secret_file' });
  }
  const secret = (text.split('\n')[0] ?? '').trim();
  if (secret === '') throw new ConfigError('config_invalid', `auth.secret_file: ${file} is empty`, { key: 'auth.secret_file' });
  return secret;
}

async function authSectionIfNeeded(configPath: string | undefined, env: NodeJS.ProcessEnv): Promise<Record<string, unknown> | undefined> {
  const secretGiven = env.MAILPASSD_AUTH_SECRET !== undefined || !!env.MAILPASSD_AUTH_SECRET_FILE;
  if (env.MAILPASSD_AUTH_LISTEN !== undefined && secretGiven) return undefined;
  const { file, explicit } = resolveConfigPath(configPath, env);
  if (!file || (!explicit && !existsSync(file))) return undefined;
  const { readConfigFile } = await import('../config/file.js');
  try {
    return readConfigFile(file, explicit).auth as Record<string, unknown> | undefined;
  } catch (err) {
    // The default /etc/mailpassd/mailpassd.toml holds the database URL and is
    // usually not readable by Dovecot's user: then the environment is the source.
    if (!explicit && err instanceof ConfigError && err.code === 'config_file_unreadable') return undefined;
    throw err;
  }
}

/** `mailpassd checkpassword [--config PATH] <reply-program…>` */
export async function checkpasswordMain(args: string[]): Promise<number> {
  let configPath: string | undefined;
  if (args[0] === '--config' && args[1]) {
    configPath = args[1];
    args = args.slice(2);
  } else if (args[0]?.startsWith('--config=')) {
    configPath = args[0].slice('--config='.length);
    args = args.slice(1);
  }
  try {
    return await runCheckpassword(args, await authTarget(configPath, process.env), process.env);
  } catch (err) {
    process.stderr.write(`mailpassd checkpassword: ${(err as Error).message}\n`);
    return EXIT_TEMPFAIL;
  }
}
