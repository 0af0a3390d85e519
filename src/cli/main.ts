#!/usr/bin/env node
/**
 * Entry point. `checkpassword` is dispatched before anything heavy is imported:
 * Dovecot forks it for every login, so it must start in well under 100 ms.
 */
const [, , command, ...rest] = process.argv;

if (command === 'checkpassword') {
  const { checkpasswordMain } = await import('./checkpassword.js');
  process.exit(await checkpasswordMain(rest));
} else {
  const { runCli } = await import('./program.js');
  process.exitCode = await runCli(process.argv);
}
