import { post, ndjson, type Problem } from './api.js';
import { setUpMenus } from './menu.js';
import { PasswordWidget } from './password.js';

/**
 * The console's one script (a module, loaded from /assets/; the CSP allows no
 * inline script). Everything works without it where a form can do the job; with
 * it: live rule checks, the gear menus, the dialogs (native <dialog>: modal,
 * focus kept inside, Escape closes) and the live per-node progress of a change.
 */

interface NodeLine {
  node_id: string;
  state: 'applied' | 'failed' | 'stale' | 'waiting';
  text: string;
}
type Event =
  | { type: 'progress'; nodes: NodeLine[] }
  | { type: 'done'; nodes: NodeLine[]; summary: { text: string; sessions_text: string; complete: boolean } }
  | { type: 'error'; code: string; text: string };

const widgets = new Map<HTMLElement, PasswordWidget>();
for (const root of document.querySelectorAll<HTMLElement>('[data-pw]')) widgets.set(root, new PasswordWidget(root));
const widgetIn = (el: Element) => widgets.get(el.querySelector<HTMLElement>('[data-pw]')!);

const mailboxPath = (domain: string, address: string, action: string) =>
  `/domains/${encodeURIComponent(domain)}/mailboxes/${encodeURIComponent(address)}/${action}`;

/** Opens a dialog for an element that asked for it; focus returns to `returnTo` (the row's gear) on close. */
function openDialog(kind: string, address: string, returnTo: HTMLElement) {
  const dialog = document.getElementById(`${kind}-dialog`) as HTMLDialogElement | null;
  if (!dialog) return;
  const title = dialog.querySelector<HTMLElement>('h2');
  if (title && dialog.dataset.title) title.textContent = dialog.dataset.title.replace('{address}', address);
  const form = dialog.querySelector<HTMLFormElement>('form')!;
  const domain = document.getElementById('change-dialog')?.dataset.domain ?? '';
  if (kind === 'change') {
    form.action = mailboxPath(domain, address, 'password');
    form.dataset.address = address;
    const w = widgetIn(dialog);
    w?.setAddress(address);
    w?.reset();
    resetProgress(dialog);
  } else if (kind === 'delete') {
    form.action = mailboxPath(domain, address, 'delete');
    form.reset();
  } else if (kind === 'add') {
    form.reset();
    widgetIn(dialog)?.reset();
  }
  dialog.addEventListener('close', () => returnTo.focus(), { once: true });
  dialog.showModal();
  dialog.querySelector<HTMLInputElement>('input:not([type="hidden"])')?.focus();
}

for (const dialog of document.querySelectorAll<HTMLDialogElement>('dialog')) {
  for (const b of dialog.querySelectorAll<HTMLButtonElement>('[data-close]')) b.addEventListener('click', () => dialog.close());
}
for (const opener of document.querySelectorAll<HTMLElement>('[data-open]:not([role="menuitem"])')) {
  opener.addEventListener('click', () => openDialog(opener.dataset.open!, opener.dataset.address ?? '', opener));
}
setUpMenus((item, gear) => openDialog(item.dataset.open!, item.dataset.address ?? '', gear));

// The owner's form: checked once more before it goes (the check is async, so the
// submit is held and the form posted by hand; HTMLFormElement.submit fires no event).
const meForm = document.querySelector<HTMLFormElement>('[data-me-form]');
meForm?.addEventListener('submit', async (e) => {
  e.preventDefault();
  const w = widgetIn(meForm);
  const answer = await w?.check();
  if (!answer || answer.ok) meForm.submit();
  else w?.input.focus();
});

function resetProgress(dialog: HTMLElement) {
  dialog.querySelector('[data-progress-nodes]')?.replaceChildren();
  for (const p of dialog.querySelectorAll('[data-progress-summary], [data-progress-sessions]')) p.textContent = '';
  const confirm = dialog.querySelector<HTMLButtonElement>('[data-confirm]');
  if (confirm) {
    confirm.disabled = false;
    confirm.hidden = false;
  }
  const close = dialog.querySelector<HTMLButtonElement>('[data-close]');
  if (close) close.textContent = close.dataset.labelCancel ?? close.textContent;
}

function renderNodes(dialog: HTMLElement, nodes: NodeLine[]) {
  const ul = dialog.querySelector('[data-progress-nodes]');
  ul?.replaceChildren(
    ...nodes.map((n) => {
      const li = document.createElement('li');
      li.dataset.node = n.node_id;
      li.dataset.state = n.state;
      li.textContent = n.text;
      return li;
    }),
  );
}

// The admin's change: streamed, node by node, into the dialog's status region.
const changeForm = document.querySelector<HTMLFormElement>('[data-change-form]');
changeForm?.addEventListener('submit', async (e) => {
  e.preventDefault();
  const dialog = changeForm.closest('dialog')!;
  const w = widgetIn(dialog)!;
  const confirm = dialog.querySelector<HTMLButtonElement>('[data-confirm]')!;
  const close = dialog.querySelector<HTMLButtonElement>('[data-close]')!;
  close.dataset.labelCancel ??= close.textContent ?? '';
  confirm.disabled = true;
  try {
    const res = await post('/console/api/password', { address: changeForm.dataset.address, password: w.input.value });
    if (!res.ok) {
      const p = (await res.json()) as Problem;
      w.violations(p.violations && p.violations.length > 0 ? p.violations : [{ text: p.detail }]);
      if (p.violations) w.show({ rules: [], violations: p.violations, score: 0, ok: false });
      void w.check();
      confirm.disabled = false;
      w.input.focus();
      return;
    }
    for await (const ev of ndjson<Event>(res)) {
      if (ev.type === 'progress') renderNodes(dialog, ev.nodes);
      else if (ev.type === 'done') {
        renderNodes(dialog, ev.nodes);
        dialog.querySelector('[data-progress-summary]')!.textContent = ev.summary.text;
        dialog.querySelector('[data-progress-sessions]')!.textContent = ev.summary.sessions_text;
      } else {
        dialog.querySelector('[data-progress-summary]')!.textContent = ev.text;
      }
    }
    confirm.hidden = true;
    close.textContent = close.dataset.labelDone ?? close.textContent;
    close.focus();
  } catch (err) {
    dialog.querySelector('[data-progress-summary]')!.textContent = String(err);
    confirm.disabled = false;
  }
});

// A once-shown secret (a new app password): "Copy" only where a script can copy.
for (const button of document.querySelectorAll<HTMLButtonElement>('[data-copy-button]')) {
  const source = button.parentElement?.querySelector<HTMLInputElement>('[data-copy-source]');
  if (!source) continue;
  button.hidden = false;
  button.addEventListener('click', () => {
    const label = button.textContent;
    navigator.clipboard.writeText(source.value).then(
      () => {
        button.textContent = button.dataset.copied ?? label;
        window.setTimeout(() => (button.textContent = label), 2000);
      },
      () => source.select(), // no clipboard permission (plain HTTP): leave it selected for Ctrl+C
    );
  });
}
