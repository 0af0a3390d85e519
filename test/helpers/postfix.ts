export * from '../../harness/postfix.js';
