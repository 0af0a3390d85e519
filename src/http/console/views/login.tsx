import { Layout, type Frame } from './layout.js';

export function LoginPage({ frame, address, error }: { frame: Frame; address: string; error: string | null }) {
  const { t } = frame;
  return (
    <Layout frame={frame} title={t.signIn}>
      <h1 safe>{t.signIn}</h1>
      {error !== null && (
        <p role="alert" class="error" safe>
          {error}
        </p>
      )}
      <form method="post" action="/login" class="stack narrow">
        <label for="login-address" safe>
          {t.email}
        </label>
        <input id="login-address" name="address" type="email" autocomplete="username" required value={address} autofocus={error === null} />
        <label for="login-password" safe>
          {t.password}
        </label>
        <input id="login-password" name="password" type="password" autocomplete="current-password" required autofocus={error !== null} />
        <button type="submit" safe>
          {t.signIn}
        </button>
      </form>
    </Layout>
  );
}
