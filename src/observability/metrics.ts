import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface NodeLag {
  node_id: string;
  lag: number;
  /** Invalidations the node gave up on after its retry budget. */
  failed: number;
}

/**
 * One registry per daemon (tests run several in one process). `nodeLag` reads
 * every node's distance from the head of the invalidation log at scrape time, so
 * any daemon's /metrics shows the whole cluster, a stopped node included.
 */
export function createMetrics(
  nodeLag: () => Promise<NodeLag[]> = async () => [],
  noticeJobs: () => Promise<Array<{ state: string; count: number }>> = async () => [],
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mailpassd_' });
  return {
    registry,
    authResults: new Counter({
      name: 'mailpassd_auth_results_total',
      help: 'Passdb verifications by result and service',
      labelNames: ['result', 'service'] as const,
      registers: [registry],
    }),
    authLatency: new Histogram({
      name: 'mailpassd_auth_duration_seconds',
      help: 'Passdb verification latency',
      labelNames: ['result'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    authLookupBatch: new Histogram({
      name: 'mailpassd_auth_lookup_batch_size',
      help: 'Logins whose rows one statement read (the count is statements, the sum logins): above 1 under load',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    argon2Queue: new Gauge({ name: 'mailpassd_argon2_queue_depth', help: 'argon2 verifications waiting for a slot', registers: [registry] }),
    argon2Active: new Gauge({ name: 'mailpassd_argon2_active', help: 'argon2 verifications running', registers: [registry] }),
    hashVerifications: new Counter({ name: 'mailpassd_hash_verifications_total', help: 'argon2 (or legacy) verifications run for logins, the dummy one for unknown users included', registers: [registry] }),
    appPasswordLogins: new Counter({ name: 'mailpassd_app_password_logins_total', help: 'logins accepted with an app password (no argon2)', registers: [registry] }),
    memoHits: new Counter({ name: 'mailpassd_memo_hits_total', help: 'verifications answered from the memo', registers: [registry] }),
    throttled: new Counter({ name: 'mailpassd_throttled_total', help: 'logins refused by the throttle before argon2', registers: [registry] }),
    rotations: new Counter({ name: 'mailpassd_rotations_total', help: 'password changes', labelNames: ['reason'] as const, registers: [registry] }),
    invalidationLag: new Gauge({
      name: 'mailpassd_invalidation_lag',
      help: 'invalidation log entries not yet applied, per node',
      labelNames: ['node_id'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const n of await nodeLag().catch(() => [])) this.set({ node_id: n.node_id }, n.lag);
      },
    }),
    invalidationFailures: new Gauge({
      name: 'mailpassd_invalidation_failures',
      help: 'invalidations a node gave up on after its retry budget (not applied there), per node',
      labelNames: ['node_id'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const n of await nodeLag().catch(() => [])) this.set({ node_id: n.node_id }, n.failed);
      },
    }),
    invalidationsApplied: new Counter({
      name: 'mailpassd_invalidations_applied_total',
      help: 'invalidation attempts on this node, by outcome: applied, failed (will retry), gave_up (retry budget spent, skipped)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    // Notices (issue 14): the queue is read cluster-wide at scrape time, like the lag above.
    noticesQueued: new Gauge({
      name: 'mailpassd_notices',
      help: 'notice jobs in the cluster by state: queued (incl. waiting to retry), sending (claimed), failed (gave up)',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const state of ['queued', 'sending', 'failed']) this.set({ state }, 0);
        for (const n of await noticeJobs().catch(() => [])) this.set({ state: n.state }, n.count);
      },
    }),
    noticesSent: new Counter({ name: 'mailpassd_notices_sent_total', help: 'notices handed to the relay by this node', labelNames: ['kind'] as const, registers: [registry] }),
    noticesFailed: new Counter({
      name: 'mailpassd_notices_failed_total',
      help: 'failed notice attempts on this node, by outcome: retry (will be tried again), gave_up (recorded as failed)',
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
    }),
    dbErrors: new Counter({ name: 'mailpassd_database_errors_total', help: 'database errors seen by the daemon', registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
