import { MailpassdError, type CodeOf } from '../core/errors.js';

/** A configuration problem: exit 78 (EX_CONFIG), one line naming the key and source. */
export class ConfigError extends MailpassdError {
  constructor(code: CodeOf<'config'>, message: string, details: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'ConfigError';
  }
}
