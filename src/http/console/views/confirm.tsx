import { Csrf, Layout, type Frame } from './layout.js';

/**
 * "Are you sure?" for an action that cannot be taken back: a page reached by a
 * GET (a link in a menu or list), so it asks first with or without JavaScript;
 * its form POSTs the action, Cancel goes back.
 */
export function ConfirmPage(props: { frame: Frame; csrf: string; title: string; warning: string; button: string; action: string; back: string; fields?: Record<string, string> }) {
  const { frame, csrf, title, warning, button, action, back, fields = {} } = props;
  return (
    <Layout frame={{ ...frame, current: back === '/me' ? 'me' : 'domains' }} title={title}>
      <h1 safe>{title}</h1>
      <p safe>{warning}</p>
      <form method="post" action={action} class="stack narrow">
        <Csrf token={csrf} />
        {Object.entries(fields).map(([name, value]) => (
          <input type="hidden" name={name} value={value} />
        ))}
        <button type="submit" safe>
          {button}
        </button>
        <a href={back} safe>
          {frame.t.cancel}
        </a>
      </form>
    </Layout>
  );
}
