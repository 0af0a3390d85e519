import { Csrf, Layout, type Frame } from './layout.js';
import { PasswordField, type RuleView } from './password-field.js';
import { day } from './format.js';
import { AppPasswordsSection, type AppPasswordsView } from './app-passwords.js';
import { TotpSection } from './totp.js';
import type { TotpState } from '../../../accounts/totp.js';

export interface MeView {
  address: string;
  displayName: string | null;
  changedAt: string;
  expiresAt: string | null;
  rules: RuleView[];
  error: string | null;
  violations: string[];
  appPasswords: AppPasswordsView;
  totp: TotpState;
  totpError: string | null;
}

export function MePage({ frame, me, csrf }: { frame: Frame; me: MeView; csrf: string }) {
  const { t } = frame;
  return (
    <Layout frame={{ ...frame, current: 'me' }} title={t.myMailbox}>
      <h1 safe>{t.myMailbox}</h1>
      <dl class="facts">
        <dt safe>{t.address}</dt>
        <dd safe>{me.address}</dd>
        {me.displayName !== null && (
          <>
            <dt safe>{t.name}</dt>
            <dd safe>{me.displayName}</dd>
          </>
        )}
        <dt safe>{t.lastChanged}</dt>
        <dd safe>{day(me.changedAt)}</dd>
        <dt safe>{t.expires}</dt>
        <dd safe>{me.expiresAt === null ? t.never : day(me.expiresAt)}</dd>
      </dl>
      <section aria-labelledby="change-h">
        <h2 id="change-h" safe>
          {t.changePassword}
        </h2>
        {me.error !== null && (
          <div role="alert" class="error">
            <p safe>{me.error}</p>
            {me.violations.length > 0 && (
              <ul>
                {me.violations.map((v) => (
                  <li safe>{v}</li>
                ))}
              </ul>
            )}
          </div>
        )}
        <form method="post" action="/me/password" class="stack narrow" data-me-form>
          <Csrf token={csrf} />
          <label for="me-current" safe>
            {t.currentPassword}
          </label>
          <input id="me-current" name="current" type="password" autocomplete="current-password" required />
          <PasswordField t={t} id="me-new" rules={me.rules} label={t.newPassword} name="password" check={{ mode: 'existing', address: me.address }} generate={false} />
          <label for="me-confirm" safe>
            {t.confirmPassword}
          </label>
          <input id="me-confirm" name="confirm" type="password" autocomplete="new-password" required />
          <label class="check">
            <input type="checkbox" name="revokeAppPasswords" value="1" aria-describedby="me-revoke-hint" /> <span safe>{t.revokeAppPasswords}</span>
          </label>
          <p id="me-revoke-hint" class="hint" safe>
            {t.revokeAppPasswordsHint}
          </p>
          <button type="submit" safe>
            {t.changePassword}
          </button>
        </form>
      </section>
      <AppPasswordsSection t={t} csrf={csrf} view={me.appPasswords} />
      <TotpSection t={t} csrf={csrf} state={me.totp} error={me.totpError} />
    </Layout>
  );
}
