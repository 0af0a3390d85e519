export { MAIN, ROOT } from '../../harness/paths.js';
export { runCli, type CliResult } from '../../harness/cli.js';
export { cleanEnv } from '../../harness/process.js';
