import type { TotpState } from '../../../accounts/totp.js';
import type { Catalog } from '../i18n/index.js';
import { Csrf, Layout, type Frame } from './layout.js';
import { ConfirmPage } from './confirm.js';

/** On /me: the second factor's state and the one action it allows (set up, or turn off with a code). */
export function TotpSection({ t, csrf, state, error }: { t: Catalog; csrf: string; state: TotpState; error: string | null }) {
  return (
    <section aria-labelledby="totp-h">
      <h2 id="totp-h" safe>
        {t.twoFactor}
      </h2>
      {error !== null && (
        <p role="alert" class="error" safe>
          {error}
        </p>
      )}
      {state.enabled ? (
        <>
          <p safe>{t.twoFactorOn(state.recoveryLeft)}</p>
          <form method="post" action="/me/totp/disable" class="stack narrow">
            <Csrf token={csrf} />
            <label for="totp-off-code" safe>
              {t.code}
            </label>
            <input id="totp-off-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required />
            <button type="submit" safe>
              {t.turnOff}
            </button>
          </form>
        </>
      ) : (
        <>
          <p safe>{t.twoFactorOff}</p>
          <form method="get" action="/me/totp">
            <button type="submit" safe>
              {t.setUpTwoFactor}
            </button>
          </form>
        </>
      )}
    </section>
  );
}

/** Enrolment: the QR code (a data: PNG, which the CSP's img-src allows), the key as text, the confirming code. */
export function TotpEnrolPage({ frame, csrf, qr, secret, error, required }: { frame: Frame; csrf: string; qr: string; secret: string; error: string | null; required: boolean }) {
  const { t } = frame;
  return (
    <Layout frame={{ ...frame, current: 'me' }} title={t.setUpTwoFactor}>
      <h1 safe>{t.setUpTwoFactor}</h1>
      {required && <p safe>{t.twoFactorRequired}</p>}
      {error !== null && (
        <p role="alert" class="error" safe>
          {error}
        </p>
      )}
      <p safe>{t.scanQr}</p>
      <img src={qr} alt={t.qrAlt} width="200" height="200" />
      <dl class="facts">
        <dt safe>{t.secretKey}</dt>
        <dd>
          <code data-totp-secret safe>
            {secret}
          </code>
        </dd>
      </dl>
      <form method="post" action="/me/totp/confirm" class="stack narrow">
        <Csrf token={csrf} />
        <label for="totp-code" safe>
          {t.code}
        </label>
        <input id="totp-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required autofocus />
        <button type="submit" safe>
          {t.turnOn}
        </button>
      </form>
    </Layout>
  );
}

export function RecoveryCodesPage({ frame, codes }: { frame: Frame; codes: string[] }) {
  const { t } = frame;
  return (
    <Layout frame={{ ...frame, current: 'me', notice: t.twoFactorEnabled }} title={t.recoveryCodes}>
      <h1 safe>{t.recoveryCodes}</h1>
      <p safe>{t.recoveryCodesOnce}</p>
      <ul class="codes" data-recovery-codes>
        {codes.map((c) => (
          <li>
            <code safe>{c}</code>
          </li>
        ))}
      </ul>
      <p>
        <a href="/me" safe>
          {t.back}
        </a>
      </p>
    </Layout>
  );
}

/** The sign-in's second step: nothing is open until this succeeds. */
export function LoginCodePage({ frame, error }: { frame: Frame; error: string | null }) {
  const { t } = frame;
  return (
    <Layout frame={frame} title={t.twoFactor}>
      <h1 safe>{t.twoFactor}</h1>
      <p safe>{t.secondStep}</p>
      {error !== null && (
        <p role="alert" class="error" safe>
          {error}
        </p>
      )}
      <form method="post" action="/login/code" class="stack narrow">
        <label for="login-code" safe>
          {t.codeOrRecovery}
        </label>
        <input id="login-code" name="code" type="text" autocomplete="one-time-code" required autofocus />
        <button type="submit" safe>
          {t.verify}
        </button>
      </form>
    </Layout>
  );
}

/**
 * Asked before an administrator removes a mailbox's second factor: the owner
 * then signs in with the password alone, or must enrol again where admins need one.
 */
export function TotpResetConfirmPage({ frame, csrf, address, action, back }: { frame: Frame; csrf: string; address: string; action: string; back: string }) {
  const { t } = frame;
  return <ConfirmPage frame={frame} csrf={csrf} title={t.totpResetTitle(address)} warning={t.totpResetWarning} button={t.resetTotp} action={action} back={back} />;
}
