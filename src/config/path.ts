/** Which config file applies: --config, else $MAILPASSD_CONFIG, else the default if it exists. No imports: checkpassword uses it on every login. */
export const DEFAULT_CONFIG_PATH = '/etc/mailpassd/mailpassd.toml';

export function resolveConfigPath(
  configPath: string | null | undefined,
  env: NodeJS.ProcessEnv,
): { file: string | null; explicit: boolean } {
  if (configPath === null) return { file: null, explicit: false };
  if (configPath) return { file: configPath, explicit: true };
  if (env.MAILPASSD_CONFIG) return { file: env.MAILPASSD_CONFIG, explicit: true };
  return { file: DEFAULT_CONFIG_PATH, explicit: false };
}
