/**
 * A PostgreSQL failover under load (harness/failover-scenario.ts): nothing
 * wrong answered, nothing acknowledged lost, every node caught up and listening
 * again. On the embedded major version and on Debian 12's PostgreSQL 15.
 */
import { expect, it } from 'vitest';
import { runFailover } from '../../harness/failover-scenario.js';
import { debianBinaries, embeddedBinaries } from '../../harness/pg-replication.js';
import { CHEAP_HASH } from '../../harness/daemon.js';
import { requireParts } from '../helpers/parts.js';

const scenario = {
  daemonEnv: {
    ...CHEAP_HASH,
    MAILPASSD_ROTATION_HEARTBEAT_MS: '500',
    MAILPASSD_ROTATION_POLL_INTERVAL_MS: '500',
    MAILPASSD_ROTATION_STALE_AFTER_MS: '5000',
  },
  loadBeforeMs: 2_000,
  loadAfterMs: 3_000,
  detectionMs: 1_000,
  concurrency: 4,
};

async function expectSafeFailover(binaries: Parameters<typeof runFailover>[0]['binaries']) {
  const f = await runFailover({ ...scenario, binaries });
  console.log(`failover on ${f.postgres}: ${JSON.stringify(f)}`);
  expect(f.crashed).toEqual([]);
  expect(f.logins.wrong).toEqual([]);
  expect(f.logins.byAnswer.ok).toBeGreaterThan(0);
  // The switch was seen: some logins could not be answered while no primary was there.
  expect(f.logins.byAnswer.tempfail).toBeGreaterThan(0);
  expect(f.rotations.acknowledged).toBeGreaterThan(0);
  expect(f.rotations.lost).toEqual([]);
  expect(Object.values(f.promotionToFirstOkMs).every((ms) => ms !== null)).toBe(true);
  expect(f.caughtUp).toEqual({ mail1: true, mail2: true, mail3: true });
  expect(f.listenReestablished).toEqual({ mail1: true, mail2: true, mail3: true });
  expect(f.afterSwitch.complete).toBe(true);
}

requireParts(['root'])('failover of the embedded PostgreSQL major version', () => {
  it('kills the primary, promotes the synchronous replica: no wrong answer, no acknowledged rotation lost, every node back', async () => {
    await expectSafeFailover(await embeddedBinaries());
  }, 180_000);
});

requireParts(['postgresql15'])('failover on Debian 12\'s PostgreSQL 15', () => {
  it('kills the primary, promotes the replica built by pg_basebackup: no wrong answer, no acknowledged rotation lost, every node back', async () => {
    await expectSafeFailover(debianBinaries(15)!);
  }, 180_000);
});
