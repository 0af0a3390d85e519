export { sleep, waitFor } from '../../harness/process.js';
