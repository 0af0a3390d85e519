export { loadConfig, CONFIG_KEYS, envNameOf, PACKAGE_ROOT, type LoadOptions, type Source } from './load.js';
export { DEFAULT_CONFIG_PATH } from './file.js';
export { type Config, type Listen, type DoveadmTarget, formatListen, parseListen } from './config.js';
export { ConfigError } from './errors.js';
export { SECRET_KEYS } from './schema.js';
