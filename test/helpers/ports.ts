export { freePort } from '../../harness/process.js';
