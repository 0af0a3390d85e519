export { loadConfig, CONFIG_KEYS, envNameOf, type LoadOptions } from './load.js';
export { PACKAGE_ROOT } from './package-root.js';
export { DEFAULT_CONFIG_PATH } from './file.js';
export { type Config, type Derived, type DoveadmTarget, type Source } from './config.js';
export { type Listen, formatListen, parseListen } from '../core/listen.js';
export { ConfigError } from './errors.js';
export { SECRET_KEYS } from './schema.js';
