/**
 * The daemon's spawner process (see spawner.ts): runs each requested binary and
 * sends back its result. Exits when the daemon goes away.
 */
import { runBinary } from './run-binary.js';
import type { SpawnReply, SpawnRequest } from './spawner.js';

/** Aborted when the daemon goes: no doveadm outlives the spawner without its time limit. */
const daemonGone = new AbortController();

process.on('message', (req: SpawnRequest) => {
  void runBinary(req.binary, req.args, req.timeoutMs, daemonGone.signal).then((result) => {
    if (process.connected) process.send?.({ id: req.id, result } satisfies SpawnReply);
  });
});
process.on('disconnect', () => {
  daemonGone.abort(); // SIGKILLs every doveadm still running
  setImmediate(() => process.exit(0));
});
