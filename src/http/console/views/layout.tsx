import type { Children } from '@kitajs/html';
import type { Catalog } from '../i18n/index.js';

/** What every page's frame needs: the language's strings and, when signed in, who and the form token. */
export interface Frame {
  t: Catalog;
  user: { address: string; admin: boolean; csrf: string } | null;
  /** Which nav entry is the current page. */
  current?: 'me' | 'domains' | 'cluster' | 'audit';
  notice?: string | null;
}

/**
 * The one page frame: a skip link, a header with the navigation and "Sign out",
 * a notice in a status region. The only script is /assets/console.js (a module:
 * deferred, and CSP-clean: no inline script or style anywhere).
 */
export function Layout({ frame, title, children }: { frame: Frame; title: string; children: Children }) {
  const { t, user, current } = frame;
  return (
    <>
      {'<!doctype html>'}
      <html lang={t.lang}>
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="referrer" content="same-origin" />
          <title safe>{`${title} · ${t.appName}`}</title>
          <link rel="stylesheet" href="/assets/console.css" />
          <script type="module" src="/assets/console.js"></script>
        </head>
        <body>
          <a class="skip" href="#main" safe>
            {t.skipToContent}
          </a>
          <header class="top">
            <span class="brand" safe>
              {t.appName}
            </span>
            {user !== null && (
              <>
                <nav aria-label={t.mainNav}>
                  <ul>
                    <NavLink href="/me" label={t.navMe} current={current === 'me'} />
                    {user.admin && <NavLink href="/domains" label={t.navDomains} current={current === 'domains'} />}
                    {user.admin && <NavLink href="/cluster" label={t.navCluster} current={current === 'cluster'} />}
                    {user.admin && <NavLink href="/audit" label={t.navAudit} current={current === 'audit'} />}
                  </ul>
                </nav>
                <form method="post" action="/logout" class="signout">
                  <span class="who" safe>
                    {t.signedInAs(user.address)}
                  </span>
                  <input type="hidden" name="_csrf" value={user.csrf} />
                  <button type="submit" safe>
                    {t.signOut}
                  </button>
                </form>
              </>
            )}
          </header>
          <main id="main" tabindex="-1">
            <div role="status" class="notice" id="notice" safe>
              {frame.notice ?? ''}
            </div>
            {children}
          </main>
        </body>
      </html>
    </>
  );
}

/** The hidden field every state-changing form carries (checked with the Origin). */
export function Csrf({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}

export function Message({ frame, title, text, status }: { frame: Frame; title: string; text: string; status?: number }) {
  return (
    <Layout frame={frame} title={title}>
      <h1 safe>{title}</h1>
      <p data-status={status === undefined ? undefined : String(status)} safe>
        {text}
      </p>
      <p>
        <a href="/" safe>
          {frame.t.back}
        </a>
      </p>
    </Layout>
  );
}

function NavLink({ href, label, current }: { href: string; label: string; current: boolean }) {
  return (
    <li>
      <a href={href} aria-current={current ? 'page' : undefined} safe>
        {label}
      </a>
    </li>
  );
}
