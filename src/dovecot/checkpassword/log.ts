/** One line on stderr, which Dovecot copies into its log for a checkpassword child. Never a password here. */
export function log(message: string): void {
  process.stderr.write(`mailpassd checkpassword: ${message}\n`);
}
