import { MailpassdError } from '../errors.js';

/** A configuration problem: exit 78 (EX_CONFIG), one line naming the key and source. */
export class ConfigError extends MailpassdError {
  constructor(code: string, message: string, details: Record<string, unknown>) {
    super(code, message, 'config', details);
    this.name = 'ConfigError';
  }
}
