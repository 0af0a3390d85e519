import type { NodeRow } from '../../../store/sql/rows.js';
import { Layout, type Frame } from './layout.js';
import { when } from './format.js';

export function ClusterPage({ frame, nodes, lags }: { frame: Frame; nodes: NodeRow[]; lags: Map<string, number> }) {
  const { t } = frame;
  return (
    <Layout frame={{ ...frame, current: 'cluster' }} title={t.cluster}>
      <h1 safe>{t.cluster}</h1>
      {nodes.length === 0 ? (
        <p safe>{t.noNodes}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col" safe>{t.node}</th>
              <th scope="col" safe>{t.state}</th>
              <th scope="col" safe>{t.lag}</th>
              <th scope="col" safe>{t.lastError}</th>
              <th scope="col" safe>{t.heartbeat}</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((n) => (
              <tr data-node={n.node_id} data-state={n.stale ? 'stale' : 'live'}>
                <th scope="row" safe>{n.node_id}</th>
                <td safe>{n.stale ? t.stale : t.live}</td>
                <td safe>{t.invalidationsBehind(lags.get(n.node_id) ?? 0)}</td>
                <td safe>{n.last_error ?? ''}</td>
                <td safe>{when(n.heartbeat_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
}
