import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whichever of tests and benchmarks imports the harness. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The built entry point: tests and benchmarks drive `dist/`, as an operator would. */
export const MAIN = join(ROOT, 'dist', 'cli', 'main.js');
/** The shipped configuration files (Dovecot snippets, Postfix snippet). */
export const CONFIG_DIR = join(ROOT, 'config');
