export * from '../../harness/imap.js';
