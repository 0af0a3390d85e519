import type { AppPasswordView } from '../../../accounts/app-passwords.js';
import type { Catalog } from '../i18n/index.js';
import { Csrf, Layout, type Frame } from './layout.js';
import { day, when } from './format.js';
import { ConfirmPage } from './confirm.js';

export interface AppPasswordsView {
  items: AppPasswordView[];
  /** Just created: its password, shown this once. */
  created: { name: string; password: string } | null;
  error: string | null;
}

const SERVICES = ['imap', 'pop3', 'smtp', 'sieve'] as const;

/** The owner's app passwords on /me: the list with a Revoke per row, the create form, a new one's password once. */
export function AppPasswordsSection({ t, csrf, view }: { t: Catalog; csrf: string; view: AppPasswordsView }) {
  return (
    <section aria-labelledby="app-passwords-h">
      <h2 id="app-passwords-h" safe>
        {t.appPasswords}
      </h2>
      <p safe>{t.appPasswordsIntro}</p>
      {view.created !== null && (
        <div class="generated" data-app-password-created>
          <label for="app-password-value" safe>
            {t.appPassword}
          </label>
          <input id="app-password-value" type="text" readonly autocomplete="off" spellcheck="false" value={view.created.password} data-copy-source />
          <button type="button" data-copy-button data-copied={t.copied} hidden safe>
            {t.copy}
          </button>
          <p safe>{t.appPasswordOnce(view.created.name)}</p>
        </div>
      )}
      <AppPasswordTable t={t} items={view.items} revokeAction="/me/app-passwords/revoke" />
      <h3 safe>{t.createAppPassword}</h3>
      {view.error !== null && (
        <p role="alert" class="error" safe>
          {view.error}
        </p>
      )}
      <form method="post" action="/me/app-passwords" class="stack narrow">
        <Csrf token={csrf} />
        <label for="ap-name" safe>
          {t.appPasswordName}
        </label>
        <input id="ap-name" name="name" type="text" maxlength="64" required autocomplete="off" />
        <fieldset>
          <legend safe>{t.services}</legend>
          {SERVICES.map((s) => (
            <label>
              <input type="checkbox" name="services" value={s} checked /> <span safe>{s.toUpperCase()}</span>
            </label>
          ))}
        </fieldset>
        <label for="ap-expiry" safe>
          {t.expiryDays}
        </label>
        <input id="ap-expiry" name="expiry_days" type="number" min="1" max="3650" inputmode="numeric" />
        <button type="submit" safe>
          {t.createAppPassword}
        </button>
      </form>
    </section>
  );
}

/** The list, with a Revoke per row: a GET to the confirmation page, so revoking asks first, with or without JavaScript. */
export function AppPasswordTable({ t, items, revokeAction }: { t: Catalog; items: AppPasswordView[]; revokeAction: string }) {
  return (
    <>
      {items.length === 0 ? (
        <p safe>{t.noAppPasswords}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col" safe>{t.name}</th>
              <th scope="col" safe>{t.services}</th>
              <th scope="col" safe>{t.created}</th>
              <th scope="col" safe>{t.lastUsed}</th>
              <th scope="col" safe>{t.expires}</th>
              <th scope="col"><span class="visually-hidden" safe>{t.revoke}</span></th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr data-app-password={a.name}>
                <td safe>{a.name}</td>
                <td safe>{a.scopes.join(', ')}</td>
                <td safe>{day(a.created_at)}</td>
                <td safe>{a.last_used_at === null ? t.neverUsed : t.lastUsedFrom(when(a.last_used_at), a.last_used_ip ?? '?', a.last_used_service ?? '?')}</td>
                <td safe>{a.expires_at === null ? t.never : day(a.expires_at)}</td>
                <td>
                  <form method="get" action={revokeAction}>
                    <input type="hidden" name="name" value={a.name} />
                    <button type="submit" aria-label={t.revokeFor(a.name)} safe>
                      {t.revoke}
                    </button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export function RevokeConfirmPage({ frame, csrf, name, action = '/me/app-passwords/revoke', back = '/me' }: { frame: Frame; csrf: string; name: string; action?: string; back?: string }) {
  const { t } = frame;
  return <ConfirmPage frame={frame} csrf={csrf} title={t.revokeTitle(name)} warning={t.revokeWarning} button={t.revoke} action={action} back={back} fields={{ name }} />;
}

/** After a revocation: the per-node outcome, as the change dialog shows it. */
export function RevokedPage({ frame, lines, summary, back = '/me' }: { frame: Frame; lines: Array<{ node_id: string; state: string; text: string }>; summary: string; back?: string }) {
  const { t } = frame;
  return (
    <Layout frame={{ ...frame, current: back === '/me' ? 'me' : 'domains' }} title={t.appPasswords}>
      <h1 safe>{t.appPasswords}</h1>
      <div role="status" data-progress>
        <ul>
          {lines.map((l) => (
            <li data-node={l.node_id} data-state={l.state} safe>
              {l.text}
            </li>
          ))}
        </ul>
        <p data-progress-summary safe>
          {summary}
        </p>
      </div>
      <p>
        <a href={back} safe>
          {t.back}
        </a>
      </p>
    </Layout>
  );
}

/** An administrator's view of a mailbox's app passwords: the list and Revoke (creating stays with the owner, who is shown the password). */
export function MailboxAppPasswordsPage({ frame, address, items, base }: { frame: Frame; address: string; items: AppPasswordView[]; base: string }) {
  const { t } = frame;
  return (
    <Layout frame={{ ...frame, current: 'domains' }} title={t.appPasswordsOf(address)}>
      <h1 safe>{t.appPasswordsOf(address)}</h1>
      <AppPasswordTable t={t} items={items} revokeAction={`${base}/revoke`} />
    </Layout>
  );
}
