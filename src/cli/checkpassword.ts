import { DEFAULT_AUTH_LISTEN, LISTEN_PATTERN, formatListen, parseListen } from '../config/config.js';
import { ConfigError } from '../config/errors.js';
import { readConfigFile, resolveConfigPath } from '../config/file.js';
import { runCheckpassword, EXIT_TEMPFAIL, type CheckpasswordTarget } from '../dovecot/checkpassword.js';

/**
 * Where the auth listener is: `auth.listen` and `auth.secret` with the usual
 * precedence (environment > file > default). This reads only those two keys,
 * without the TypeBox schema the full loader uses: Dovecot forks checkpassword
 * for every login and the schema alone costs over 100 ms to import.
 */
function authTarget(configPath: string | undefined, env: NodeJS.ProcessEnv): CheckpasswordTarget {
  const { file, explicit } = resolveConfigPath(configPath, env);
  const section = (file ? readConfigFile(file, explicit).auth : undefined) as Record<string, unknown> | undefined;
  const listen = env.MAILPASSD_AUTH_LISTEN ?? section?.listen ?? DEFAULT_AUTH_LISTEN;
  const secret = env.MAILPASSD_AUTH_SECRET ?? section?.secret ?? null;
  if (typeof listen !== 'string' || !new RegExp(LISTEN_PATTERN).test(listen)) {
    throw new ConfigError('config_invalid', `auth.listen: ${JSON.stringify(listen)} is not host:port or unix:/path`, { key: 'auth.listen' });
  }
  if (secret !== null && typeof secret !== 'string') throw new ConfigError('config_invalid', 'auth.secret: must be a string', { key: 'auth.secret' });
  const where = parseListen(listen, '0660');
  return { authUrl: where.kind === 'unix' ? formatListen(where) : `http://${formatListen(where)}`, secret };
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
    return await runCheckpassword(args, authTarget(configPath, process.env), process.env);
  } catch (err) {
    process.stderr.write(`mailpassd checkpassword: ${(err as Error).message}\n`);
    return EXIT_TEMPFAIL;
  }
}
