export { tempDir } from '../../harness/tmp.js';
