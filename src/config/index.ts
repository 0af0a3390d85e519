export { loadConfig, CONFIG_KEYS, envNameOf, DEFAULT_CONFIG_PATH, PACKAGE_ROOT, type LoadOptions, type Source } from './load.js';
export { type Config, type Listen, type DoveadmTarget, formatListen, parseListen } from './config.js';
export { ConfigError } from './errors.js';
export { SECRET_KEYS } from './schema.js';
