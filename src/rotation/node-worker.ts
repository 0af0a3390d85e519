import { hostname } from 'node:os';
import { asUnavailable, withTransaction, type Client } from '../store/pool.js';
import type { Context } from '../core/context.js';
import { MailpassdError } from '../core/errors.js';
import type { Metrics } from '../observability/metrics.js';
import { createDoveadm, type Doveadm } from '../dovecot/doveadm.js';
import { startSpawner } from '../dovecot/spawner.js';
import { INVALIDATION_CHANNEL, invalidationsAfter, recordInvalidationFailure } from '../store/sql/invalidations.js';
import { pruneOnce } from '../store/retention.js';
import { advanceCursor, heartbeat, markNodeStopped, recordNodeError, registerNode, skipPastFailure, tryLockNodeId, unlockNodeId } from '../store/sql/nodes.js';
import type { InvalidationRow } from '../store/sql/rows.js';
import { setNodeAppPasswordKick } from '../store/sql/app-passwords.js';
import { pruneConsoleSessions } from '../store/sql/console-sessions.js';
import { sweepExpiredAppPasswords } from './expiry-sweep.js';

export interface NodeWorker {
  readonly nodeId: string;
  /** Applies pending invalidations now (tests, and the NOTIFY handler). */
  poke(): void;
  stop(): Promise<void>;
}

const BATCH = 100;

function nodeIdInUse(nodeId: string): MailpassdError {
  return new MailpassdError(
    'node_id_in_use',
    `node_id "${nodeId}" is already used by another running mailpassd on this database (two daemons with one node_id would each skip the other's rotations); ` +
      'give every daemon its own node_id: set MAILPASSD_NODE_ID (or node_id in mailpassd.toml)',
    { node_id: nodeId },
  );
}

/**
 * This daemon's share of the fan-out (DESIGN §5): LISTEN for new invalidations,
 * with polling as the fallback for a lost notification or connection; for each
 * new row flush Dovecot's auth cache for the user and kick the sessions, then
 * advance this node's cursor. Rows are read in id order, and ids are handed out
 * in commit order (migration 0002), so moving the cursor never passes over a
 * row that commits later.
 *
 * A failing row is retried once per poll interval, up to rotation.retry_attempts;
 * then it is recorded as failed on this node (invalidation_failures: the
 * rotation's answer says "not applied" with the error) and the cursor moves on,
 * so one row Dovecot refuses cannot hold back every later rotation on this node.
 *
 * The LISTEN connection holds a session advisory lock on the node_id: a second
 * daemon started with the same node_id refuses to start (exit 78).
 */
export async function startNodeWorker(ctx: Context, metrics: Metrics | null): Promise<NodeWorker> {
  const { config, pool, log } = ctx;
  const nodeId = config.node_id;
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  let listener: Client | null = null;
  /** False while the LISTEN connection (and with it the node_id lock) is lost: another daemon may hold the id meanwhile. */
  let owned = false;
  let cursor: string | null = null;
  /** The row at the head of this node's log that keeps failing, and how often it failed. */
  let failing: { id: string; attempts: number } | null = null;
  /** Set while waiting to retry a failed row: NOTIFYs in between do not burn the retry budget. */
  let backoff: NodeJS.Timeout | null = null;

  const applyPending = async (): Promise<void> => {
    if (!owned || cursor === null) return;
    const batch = await invalidationsAfter(pool, cursor, BATCH);
    for (const inv of batch) {
      if (stopped || !owned) return;
      const { error, kicked } = await applyOne(doveadm, inv, kickByField);
      if (error) {
        const attempts = failing?.id === inv.id ? failing.attempts + 1 : 1;
        failing = { id: inv.id, attempts };
        if (attempts < config.rotation.retry_attempts) {
          metrics?.invalidationsApplied.inc({ outcome: 'failed' });
          log.warn({ invalidation_id: inv.id, address: inv.address, attempt: attempts, error }, 'invalidation not applied; will retry');
          await recordNodeError(pool, nodeId, error);
          backoff = setTimeout(() => {
            backoff = null;
            poke();
          }, config.rotation.poll_interval_ms);
          return;
        }
        await withTransaction(pool, async (tx) => {
          await recordInvalidationFailure(tx, nodeId, inv.id, attempts, error);
          await skipPastFailure(tx, nodeId, inv.id, error);
        });
        cursor = inv.id;
        failing = null;
        metrics?.invalidationsApplied.inc({ outcome: 'gave_up' });
        log.error({ invalidation_id: inv.id, address: inv.address, attempts, error }, 'invalidation failed on this node after its retry budget; recorded as not applied here, moving on');
        continue;
      }
      await advanceCursor(pool, nodeId, inv.id, kicked);
      cursor = inv.id;
      failing = null;
      metrics?.invalidationsApplied.inc({ outcome: 'applied' });
      log.info({ invalidation_id: inv.id, address: inv.address, reason: inv.reason }, 'invalidation applied');
    }
    if (batch.length === BATCH) again = true;
  };

  const poke = () => {
    if (stopped || backoff) return;
    if (running) {
      again = true;
      return;
    }
    running = applyPending()
      .catch((err: Error) => log.warn({ err: err.message }, 'invalidation worker: database error; will retry'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          setTimeout(poke, 0);
        }
      });
  };

  /**
   * A pooled client kept checked out for LISTEN and the node_id lock; on any
   * error it is destroyed and replaced. At start a failure is thrown (the
   * daemon does not start); later it is retried every poll interval.
   */
  const connectListener = async (atStart: boolean): Promise<void> => {
    if (stopped) return;
    const retry = () => setTimeout(() => void connectListener(false), config.rotation.poll_interval_ms).unref();
    let client: Client;
    try {
      client = await pool.connect();
    } catch (err) {
      if (atStart) throw asUnavailable(err);
      retry();
      return;
    }
    let locked: boolean;
    try {
      locked = await tryLockNodeId(client, nodeId);
    } catch (err) {
      client.release(err as Error);
      if (atStart) throw asUnavailable(err);
      retry();
      return;
    }
    if (!locked) {
      client.release(true);
      if (atStart) throw nodeIdInUse(nodeId);
      log.error({ node_id: nodeId }, 'node_id taken by another daemon while this one was disconnected; not applying invalidations until it is free');
      retry();
      return;
    }
    try {
      client.on('notification', () => poke());
      client.on('error', (err) => {
        if (listener !== client) return;
        listener = null;
        owned = false;
        log.warn({ err: err.message }, 'invalidation listener lost; reconnecting, polling meanwhile');
        client.release(err);
        retry();
      });
      await client.query(`LISTEN ${INVALIDATION_CHANNEL}`);
      listener = client;
      owned = true;
      // The operator's sign (and the failover test's) that a lost database connection came back.
      if (!atStart) log.info({ node_id: nodeId }, 'invalidation listener re-established');
      poke(); // anything committed while we were not listening
    } catch (err) {
      client.release(err as Error);
      if (atStart) throw err;
      retry();
    }
  };

  const prune = async () => {
    const pruned = await pruneOnce(pool, config);
    if (pruned?.invalidations) log.info({ deleted: pruned.invalidations }, 'invalidation log pruned');
    if (pruned?.audit) log.info({ deleted: pruned.audit }, 'audit log pruned');
    // Expired console sessions go on the same schedule (findSession already refuses them; this only frees the rows).
    const sessions = await pruneConsoleSessions(pool, config.console.idle_timeout_minutes, config.console.absolute_timeout_hours);
    if (sessions) log.info({ deleted: sessions }, 'expired console sessions pruned');
  };

  const sweep = async () => {
    const swept = await sweepExpiredAppPasswords(pool);
    if (swept) log.info({ invalidations: swept }, 'expired app passwords: Dovecot caches flushed');
  };

  await connectListener(true);
  const kickByField = config.app_passwords.kick_by_field;
  let node;
  try {
    node = await registerNode(pool, nodeId, hostname(), config.derived.doveadm_target.kind);
    await setNodeAppPasswordKick(pool, nodeId, kickByField ? 'app_password' : 'mailbox');
  } catch (err) {
    await releaseListener();
    throw err;
  }
  // Started only once nothing below can throw: a spawner left behind would keep a failed start alive.
  const spawner = config.derived.doveadm_target.kind === 'local' ? startSpawner((message) => log.warn(message)) : null;
  const doveadm = createDoveadm(config.derived.doveadm_target, config.rotation.doveadm_timeout_ms, spawner?.run);
  cursor = node.applied_invalidation_id;
  const poll = setInterval(poke, config.rotation.poll_interval_ms);
  const beat = setInterval(() => void heartbeat(pool, nodeId).catch(() => undefined), config.rotation.heartbeat_ms);
  const isStopped = () => stopped;
  const pruner = periodic(prune, config.rotation.prune_interval_ms, isStopped, (err) => log.warn({ err: err.message }, 'retention prune failed; will retry'));
  const sweeper = periodic(sweep, config.app_passwords.expiry_sweep_interval_ms, isStopped, (err) => log.warn({ err: err.message }, 'app password expiry sweep failed; will retry'));
  poke();
  // What expired while no daemon ran is swept at start, not one interval later.
  sweeper.runNow();

  async function releaseListener(): Promise<void> {
    const client = listener;
    listener = null;
    owned = false;
    if (!client) return;
    await client.query(`UNLISTEN ${INVALIDATION_CHANNEL}`).catch(() => undefined);
    await unlockNodeId(client, nodeId).catch(() => undefined);
    // Destroyed rather than returned to the pool: a session lock must never outlive this worker on a pooled connection.
    client.release(true);
  }

  return {
    nodeId,
    poke,
    async stop() {
      stopped = true;
      clearInterval(poll);
      clearInterval(beat);
      if (backoff) clearTimeout(backoff);
      await Promise.all([running, pruner.stop(), sweeper.stop()]);
      // Marked stale before the node_id is released, so a rotation does not wait for a node that said goodbye.
      await markNodeStopped(pool, nodeId).catch(() => undefined);
      await releaseListener();
      await spawner?.stop();
    },
  };
}


/**
 * A periodic maintenance task of the node (retention pruning, the app-password
 * expiry sweep): never two runs at once, a failure logged and tried again at
 * the next interval, and the run in flight awaited by stop() — its transaction
 * must not outlive the pool.
 */
function periodic(task: () => Promise<void>, intervalMs: number, isStopped: () => boolean, onError: (err: Error) => void): { runNow(): void; stop(): Promise<void> } {
  let inFlight: Promise<void> | null = null;
  const runNow = () => {
    if (isStopped() || inFlight) return;
    inFlight = task()
      .catch(onError)
      .finally(() => (inFlight = null));
  };
  const timer = setInterval(runNow, intervalMs);
  return {
    runNow,
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}

/**
 * The userdb field an app-password login carries (auth/verify.ts: `userdb_user_app_password`), as
 * Dovecot 2.4's anvil lists it (`doveadm who -1` column) and `doveadm kick -f` takes it (verified on 2.4.1).
 */
const APP_PASSWORD_KICK_FIELD = 'user_app_password';

async function applyOne(doveadm: Doveadm, inv: InvalidationRow, kickByField: boolean): Promise<{ error: string | null; kicked: number | null }> {
  // A revoked app password: only its sessions where Dovecot can tell them apart, else the mailbox's.
  const only = kickByField && inv.app_password_id !== null ? { field: APP_PASSWORD_KICK_FIELD, value: inv.app_password_id } : undefined;
  const { errors, kicked } = await doveadm.apply(inv.address, inv.kick, only);
  return { error: errors.length ? errors.join('; ') : null, kicked: kicked ?? null };
}
