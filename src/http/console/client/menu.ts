/**
 * The row gear menus (WAI-ARIA menu button): Enter/Space/ArrowDown open on the
 * first item, ArrowUp on the last; arrows, Home and End move; Escape closes and
 * returns focus to the gear; Tab or a click elsewhere closes.
 */
export function setUpMenus(onOpenDialog: (item: HTMLElement, gear: HTMLButtonElement) => void) {
  let open: { gear: HTMLButtonElement; menu: HTMLElement } | null = null;

  const items = (menu: HTMLElement) => [...menu.querySelectorAll<HTMLElement>('[role="menuitem"]')];
  const close = (refocus: boolean) => {
    if (!open) return;
    open.menu.hidden = true;
    open.gear.setAttribute('aria-expanded', 'false');
    if (refocus) open.gear.focus();
    open = null;
  };
  const show = (gear: HTMLButtonElement, at: 'first' | 'last') => {
    close(false);
    const menu = document.getElementById(gear.getAttribute('aria-controls') ?? '');
    if (!menu) return;
    menu.hidden = false;
    gear.setAttribute('aria-expanded', 'true');
    open = { gear, menu };
    const list = items(menu);
    (at === 'first' ? list[0] : list[list.length - 1])?.focus();
  };

  for (const gear of document.querySelectorAll<HTMLButtonElement>('[data-menu-button]')) {
    gear.addEventListener('click', () => (open?.gear === gear ? close(true) : show(gear, 'first')));
    gear.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
      e.preventDefault();
      show(gear, e.key === 'ArrowDown' ? 'first' : 'last');
    });
    const menu = document.getElementById(gear.getAttribute('aria-controls') ?? '');
    if (!menu) continue;
    menu.addEventListener('keydown', (e) => {
      const list = items(menu);
      const i = list.indexOf(document.activeElement as HTMLElement);
      const go = (n: number) => {
        e.preventDefault();
        list[(n + list.length) % list.length]?.focus();
      };
      if (e.key === 'ArrowDown') go(i + 1);
      else if (e.key === 'ArrowUp') go(i - 1);
      else if (e.key === 'Home') go(0);
      else if (e.key === 'End') go(list.length - 1);
      else if (e.key === 'Escape') {
        e.preventDefault();
        close(true);
      }
      else if (e.key === 'Tab') close(false);
    });
    for (const item of items(menu)) {
      item.addEventListener('click', () => {
        if (item.dataset.open) {
          close(false);
          onOpenDialog(item, gear);
        }
        // A submit item posts its form (the `form` attribute): the page reloads.
      });
    }
  }
  document.addEventListener('click', (e) => {
    if (open && !open.menu.contains(e.target as Node) && !open.gear.contains(e.target as Node)) close(false);
  });
}
