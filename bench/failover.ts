// PostgreSQL failover under load (harness/failover-scenario.ts): a primary with a
// synchronous streaming replica behind a loopback TCP proxy, three daemons with
// the shipped settings, logins and rotations running; the primary is killed, the
// replica promoted, the proxy repointed. On the embedded major version and, where
// installed, Debian 12's PostgreSQL 15.
import { SHIPPED_HASH } from '../harness/daemon.js';
import { runFailover, type FailoverFigures } from '../harness/failover-scenario.js';
import { debianBinaries, embeddedBinaries, type PgBinaries } from '../harness/pg-replication.js';
import type { BenchContext } from './lib/context.js';
import type { BenchResult } from './lib/report.js';

export const name = 'failover';
export const title = 'PostgreSQL failover under load (synchronous replica, three daemons)';

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const versions: PgBinaries[] = [await embeddedBinaries()];
  const pg15 = debianBinaries(15);
  if (pg15) versions.push(pg15);
  const runs: FailoverFigures[] = [];
  for (const binaries of versions) {
    runs.push(
      await runFailover({
        binaries,
        daemonEnv: { ...SHIPPED_HASH },
        loadBeforeMs: ctx.quick ? 2_000 : 5_000,
        loadAfterMs: ctx.quick ? 3_000 : 10_000,
        detectionMs: 1_000,
        concurrency: 8,
      }),
    );
  }
  const wrong = runs.reduce((n, r) => n + r.logins.wrong.length, 0);
  const lost = runs.reduce((n, r) => n + r.rotations.lost.length, 0);
  const worstFirstOk = (r: FailoverFigures) => Math.max(...Object.values(r.promotionToFirstOkMs).map((v) => v ?? Infinity));
  const all = (m: Record<string, boolean>) => `${Object.values(m).filter(Boolean).length} of ${Object.keys(m).length}`;
  return {
    setup: [
      'primary + one synchronous streaming replica (synchronous_standby_names = \'*\', synchronous_commit = on); the daemons reach them through a loopback TCP proxy, standing in for a virtual IP or a pooler',
      'three daemons (mail1-3), shipped settings (argon2 19456/2/1, poll 1 s); 8 login loops (3 of 4 right passwords, 1 of 4 wrong ones on mailboxes of their own) and one rotation loop with given passwords',
      `load ${ctx.quick ? 2 : 5} s, then: primary killed (pg_ctl stop -m immediate), 1 s "detection", replica promoted (pg_ctl promote; synchronous_standby_names cleared, as an HA manager does), proxy repointed; load goes on ${ctx.quick ? 3 : 10} s`,
      'wrong = a right password answered mismatch/unknown, or a wrong one accepted; tempfail (503, which Dovecot turns into "try again") is allowed during the switch',
    ],
    tables: [
      {
        columns: ['PostgreSQL', 'logins ok / tempfail / wrong', 'promotion → first ok (slowest node)', 'rotations acknowledged / lost (answer lost)', 'nodes caught up', 'LISTEN back', 'rotation after the switch'],
        rows: runs.map((r) => [
          r.postgres,
          `${r.logins.byAnswer.ok} / ${r.logins.byAnswer.tempfail} / ${r.logins.wrong.length}`,
          `${worstFirstOk(r)} ms`,
          `${r.rotations.acknowledged} / ${r.rotations.lost.length} (${r.rotations.ambiguous})`,
          all(r.caughtUp),
          all(r.listenReestablished),
          `${r.afterSwitch.complete ? 'confirmed by 3 of 3' : 'NOT confirmed'} in ${r.afterSwitch.ms} ms`,
        ]),
      },
    ],
    verdicts: [
      { what: 'wrong answers during failover', value: wrong, shown: String(wrong), floor: '= 0', pass: wrong === 0 },
      { what: 'acknowledged rotations lost', value: lost, shown: String(lost), floor: '= 0', pass: lost === 0 },
      ...runs.map((r) => ({ what: `every node back and confirming (${r.postgres})`, value: r.afterSwitch.ms, shown: r.afterSwitch.complete ? 'yes' : 'no', floor: 'yes', pass: r.afterSwitch.complete && r.crashed.length === 0 })),
    ],
    notes: [
      ...(pg15 ? [] : ['PostgreSQL 15 not installed (apt-get install postgresql-15): only the embedded version ran']),
      '"answer lost": rotations whose HTTP answer was an error during the switch; after it, exactly one of the two candidate passwords works for each (checked on every node)',
    ],
    figures: runs,
  };
}
