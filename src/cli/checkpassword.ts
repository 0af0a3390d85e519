import { loadConfig, formatListen, ConfigError } from '../config/index.js';
import { runCheckpassword, EXIT_TEMPFAIL } from '../dovecot/checkpassword.js';

/** `mailpassd checkpassword [--config PATH] <reply-program…>`: config read like every command, then the tiny client. */
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
    const config = loadConfig({ configPath, ignoreUnknownEnv: true });
    const listen = config.auth.listen;
    const authUrl = listen.kind === 'unix' ? formatListen(listen) : `http://${formatListen(listen)}`;
    return await runCheckpassword(args, { authUrl, secret: config.auth.secret }, process.env);
  } catch (err) {
    process.stderr.write(`mailpassd checkpassword: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
    return EXIT_TEMPFAIL;
  }
}
