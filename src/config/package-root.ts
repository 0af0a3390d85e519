import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed package (package.json, migrations/): two levels above this module in src/ and in dist/. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
