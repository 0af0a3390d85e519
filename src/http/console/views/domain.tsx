import type { MailboxView } from '../../../accounts/mailboxes.js';
import { Csrf, Layout, type Frame } from './layout.js';
import { PasswordField, type RuleView } from './password-field.js';
import { age, day, domainPath, mailboxPath } from './format.js';
import { Pager, SearchBox, type PageState } from './pager.js';

export interface DomainPageView extends PageState {
  domain: string;
  rules: RuleView[];
  items: MailboxView[];
  total: number;
  error: string | null;
}

export function DomainPage({ frame, view, csrf }: { frame: Frame; view: DomainPageView; csrf: string }) {
  const { t } = frame;
  const { domain, q } = view;
  return (
    <Layout frame={{ ...frame, current: 'domains' }} title={domain}>
      <h1 safe>{domain}</h1>
      <p class="tools">
        <a href={domainPath(domain, '/policy')} safe>
          {t.editPolicy}
        </a>
        <button type="button" data-open="add" aria-haspopup="dialog" safe>
          {t.addMailbox}
        </button>
      </p>
      {view.error !== null && (
        <p role="alert" class="error" safe>
          {view.error}
        </p>
      )}
      <SearchBox frame={frame} path={domainPath(domain)} id="mailbox-search" label={t.searchMailboxes} q={q} />
      <p class="count" safe>
        {t.mailboxCount(view.items.length, view.total)}
      </p>
      <table class="mailboxes">
        <thead>
          <tr>
            <th scope="col" safe>{t.address}</th>
            <th scope="col" safe>{t.name}</th>
            <th scope="col" safe>{t.status}</th>
            <th scope="col" safe>{t.passwordAge}</th>
            <th scope="col" safe>{t.expires}</th>
            <th scope="col">
              <span class="visually-hidden" safe>
                {t.actions}
              </span>
            </th>
          </tr>
        </thead>
        <tbody>
          {view.items.length === 0 && (
            <tr>
              <td colspan="6" safe>
                {t.noMailboxes}
              </td>
            </tr>
          )}
          {view.items.map((m, i) => (
            <MailboxRow frame={frame} m={m} i={i} csrf={csrf} domain={domain} />
          ))}
        </tbody>
      </table>
      <Pager frame={frame} path={domainPath(domain)} label={t.mailboxes} page={view} />
      <ChangeDialog frame={frame} domain={domain} rules={view.rules} csrf={csrf} />
      <DeleteDialog frame={frame} csrf={csrf} />
      <AddDialog frame={frame} domain={domain} rules={view.rules} csrf={csrf} />
    </Layout>
  );
}

function MailboxRow({ frame, m, i, csrf, domain }: { frame: Frame; m: MailboxView; i: number; csrf: string; domain: string }) {
  const { t } = frame;
  const menu = `menu-${i}`;
  const status = m.enabled ? (m.must_change ? `${t.enabled}, ${t.mustChange}` : t.enabled) : t.disabled;
  return (
    <tr data-address={m.address}>
      <th scope="row" safe>{m.address}</th>
      <td safe>{m.display_name ?? ''}</td>
      <td safe>{status}</td>
      <td safe>{age(t, m.password_changed_at)}</td>
      <td safe>{m.password_expires_at === null ? t.never : day(m.password_expires_at)}</td>
      <td class="actions">
        <button type="button" class="gear" aria-haspopup="menu" aria-expanded="false" aria-controls={menu} aria-label={t.actionsFor(m.address)} data-menu-button>
          <span aria-hidden="true">⚙</span>
        </button>
        <ul role="menu" id={menu} aria-label={t.actionsFor(m.address)} hidden>
          <li role="none">
            <button type="button" role="menuitem" tabindex="-1" data-open="change" data-address={m.address} safe>
              {t.changePassword}
            </button>
          </li>
          <li role="none">
            <button type="submit" role="menuitem" tabindex="-1" form={`toggle-${i}`} safe>
              {m.enabled ? t.disable : t.enable}
            </button>
          </li>
          <li role="none">
            <button type="submit" role="menuitem" tabindex="-1" form={`kick-${i}`} safe>
              {t.closeSessions}
            </button>
          </li>
          <li role="none">
            <a role="menuitem" tabindex="-1" href={mailboxPath(domain, m.address, 'totp-reset')} safe>
              {t.resetTotp}
            </a>
          </li>
          <li role="none">
            <a role="menuitem" tabindex="-1" href={mailboxPath(domain, m.address, 'app-passwords')} safe>
              {t.appPasswords}
            </a>
          </li>
          <li role="none">
            <button type="button" role="menuitem" tabindex="-1" data-open="delete" data-address={m.address} safe>
              {t.delete}
            </button>
          </li>
        </ul>
        <form id={`toggle-${i}`} method="post" action={mailboxPath(domain, m.address, m.enabled ? 'disable' : 'enable')} hidden>
          <Csrf token={csrf} />
        </form>
        <form id={`kick-${i}`} method="post" action={mailboxPath(domain, m.address, 'kick')} hidden>
          <Csrf token={csrf} />
        </form>
      </td>
    </tr>
  );
}

/** Filled in by console.js with the row's address; its Confirm streams the per-node progress. */
function ChangeDialog({ frame, domain, rules, csrf }: { frame: Frame; domain: string; rules: RuleView[]; csrf: string }) {
  const { t } = frame;
  return (
    <dialog id="change-dialog" aria-labelledby="change-title" data-title={t.changePasswordFor('{address}')} data-domain={domain}>
      <form method="post" class="stack" data-change-form>
        <h2 id="change-title"></h2>
        <Csrf token={csrf} />
        <PasswordField t={t} id="change" rules={rules} label={t.newPassword} name="password" check={{ mode: 'existing', address: '' }} generate={true} />
        <div role="status" class="progress" data-progress>
          <ul data-progress-nodes></ul>
          <p data-progress-summary></p>
          <p data-progress-sessions></p>
        </div>
        <div class="buttons">
          <button type="submit" data-confirm safe>
            {t.confirm}
          </button>
          <button type="button" data-close data-label-done={t.close} safe>
            {t.cancel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

function DeleteDialog({ frame, csrf }: { frame: Frame; csrf: string }) {
  const { t } = frame;
  return (
    <dialog id="delete-dialog" aria-labelledby="delete-title" data-title={t.deleteMailboxTitle('{address}')}>
      <form method="post" class="stack" data-delete-form>
        <h2 id="delete-title"></h2>
        <Csrf token={csrf} />
        <p safe>{t.deleteWarning}</p>
        <label for="delete-confirm" safe>
          {t.typeToConfirm}
        </label>
        <input id="delete-confirm" name="confirm" type="text" required autocomplete="off" spellcheck="false" />
        <div class="buttons">
          <button type="submit" class="danger" safe>
            {t.deleteMailbox}
          </button>
          <button type="button" data-close safe>
            {t.cancel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

function AddDialog({ frame, domain, rules, csrf }: { frame: Frame; domain: string; rules: RuleView[]; csrf: string }) {
  const { t } = frame;
  return (
    <dialog id="add-dialog" aria-labelledby="add-title">
      <form method="post" action={domainPath(domain, '/mailboxes')} class="stack">
        <h2 id="add-title" safe>
          {t.addMailbox}
        </h2>
        <Csrf token={csrf} />
        <label for="add-address" safe>
          {t.address}
        </label>
        <input id="add-address" name="address" type="text" required autocomplete="off" spellcheck="false" placeholder={`name@${domain}`} data-new-address />
        <label for="add-name" safe>
          {t.name}
        </label>
        <input id="add-name" name="name" type="text" autocomplete="off" data-new-name />
        <PasswordField t={t} id="add" rules={rules.filter((r) => r.code !== 'reused')} label={t.password} name="password" check={{ mode: 'new', domain }} generate={true} />
        <div class="buttons">
          <button type="submit" safe>
            {t.add}
          </button>
          <button type="button" data-close safe>
            {t.cancel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
