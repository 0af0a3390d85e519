import type { DomainSummary } from '../../../accounts/domains.js';
import { Csrf, Layout, type Frame } from './layout.js';
import { domainPath } from './format.js';
import { Pager, SearchBox, type PageState } from './pager.js';

export interface DomainsPageView extends PageState {
  items: DomainSummary[];
}

export function DomainsPage({ frame, view, csrf, canAdd }: { frame: Frame; view: DomainsPageView; csrf: string; canAdd: boolean }) {
  const { t } = frame;
  return (
    <Layout frame={{ ...frame, current: 'domains' }} title={t.domains}>
      <h1 safe>{t.domains}</h1>
      <SearchBox frame={frame} path="/domains" id="domain-search" label={t.searchDomains} q={view.q} />
      <table>
        <thead>
          <tr>
            <th scope="col" safe>{t.domain}</th>
            <th scope="col" class="num" safe>{t.mailboxes}</th>
            <th scope="col" safe>{t.policy}</th>
            <th scope="col" safe>{t.status}</th>
          </tr>
        </thead>
        <tbody>
          {view.items.length === 0 && (
            <tr>
              <td colspan="4" safe>
                {t.noDomains}
              </td>
            </tr>
          )}
          {view.items.map((d) => (
            <tr>
              <th scope="row">
                <a href={domainPath(d.name)} safe>
                  {d.name}
                </a>
              </th>
              <td class="num" safe>{String(d.mailbox_count)}</td>
              <td safe>{t.policySummary(d.policy.minLength, d.policy.historyCount, d.policy.maxAgeDays)}</td>
              <td safe>{d.enabled ? t.enabled : `${t.disabled}${d.disabled_reason ? ` (${d.disabled_reason})` : ''}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager frame={frame} path="/domains" label={t.domains} page={view} />
      {canAdd && (
        <form method="post" action="/domains" class="inline">
          <Csrf token={csrf} />
          <label for="domain-name" safe>
            {t.domainName}
          </label>
          <input id="domain-name" name="name" type="text" required autocomplete="off" spellcheck="false" />
          <button type="submit" safe>
            {t.addDomain}
          </button>
        </form>
      )}
    </Layout>
  );
}
