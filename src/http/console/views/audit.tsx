import type { AuditRow } from '../../../store/sql/rows.js';
import { Layout, type Frame } from './layout.js';
import { when } from './format.js';

export function AuditPage({ frame, target, items, next }: { frame: Frame; target: string; items: AuditRow[]; next: string | null }) {
  const { t } = frame;
  const older = new URLSearchParams();
  if (target) older.set('target', target);
  if (next) older.set('before', next);
  return (
    <Layout frame={{ ...frame, current: 'audit' }} title={t.auditLog}>
      <h1 safe>{t.auditLog}</h1>
      <form method="get" action="/audit" class="inline" role="search">
        <label for="audit-target" safe>
          {t.mailboxFilter}
        </label>
        <input id="audit-target" name="target" type="text" value={target} autocomplete="off" spellcheck="false" />
        <button type="submit" safe>
          {t.filter}
        </button>
      </form>
      {items.length === 0 ? (
        <p safe>{t.noEntries}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col" safe>{t.when}</th>
              <th scope="col" safe>{t.actor}</th>
              <th scope="col" safe>{t.action}</th>
              <th scope="col" safe>{t.target}</th>
              <th scope="col" safe>{t.sourceIp}</th>
              <th scope="col" safe>{t.details}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <tr>
                <td safe>{when(e.at)}</td>
                <td safe>{e.actor}</td>
                <td safe>{e.action}</td>
                <td safe>{e.target ?? ''}</td>
                <td safe>{e.source_ip ?? ''}</td>
                <td class="details" safe>{Object.keys(e.details).length === 0 ? '' : JSON.stringify(e.details)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next !== null && (
        <p>
          <a href={`/audit?${older.toString()}`} rel="next" safe>
            {t.olderEntries}
          </a>
        </p>
      )}
    </Layout>
  );
}
