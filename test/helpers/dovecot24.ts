export * from '../../harness/dovecot24.js';
