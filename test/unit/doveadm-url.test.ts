import { describe, expect, it } from 'vitest';
import { withApiPath } from '../../src/dovecot/doveadm.js';

describe('doveadm HTTP API URL', () => {
  it('adds the API path to a bare host:port and keeps an explicit one', () => {
    expect(withApiPath('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080/doveadm/v1');
    expect(withApiPath('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080/doveadm/v1');
    expect(withApiPath('https://[::1]:8443/doveadm/v1')).toBe('https://[::1]:8443/doveadm/v1');
    expect(withApiPath('http://mail1.example:8080/custom/path')).toBe('http://mail1.example:8080/custom/path');
  });
});
