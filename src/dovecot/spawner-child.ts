/**
 * The daemon's spawner process (see spawner.ts): runs each requested binary and
 * sends back its result. Exits when the daemon goes away.
 */
import { runBinary } from './run-binary.js';
import type { SpawnReply, SpawnRequest } from './spawner.js';

process.on('message', (req: SpawnRequest) => {
  void runBinary(req.binary, req.args, req.timeoutMs).then((result) => process.send?.({ id: req.id, result } satisfies SpawnReply));
});
process.on('disconnect', () => process.exit(0));
