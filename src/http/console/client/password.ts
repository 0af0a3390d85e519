import { postJson, type Problem } from './api.js';

interface CheckAnswer {
  rules: Array<{ code: string; text: string; state: 'ok' | 'failed' }>;
  violations: Array<{ code: string; text: string }>;
  score: number;
  ok: boolean;
}

const DEBOUNCE_MS = 300;

/**
 * The live rule check of one `[data-pw]` block: debounced, one request in flight
 * (an older answer never overwrites a newer one), each rule's data-state set,
 * every refusal named, the meter moved.
 */
export class PasswordWidget {
  readonly input: HTMLInputElement;
  private timer: number | undefined;
  private inflight: AbortController | null = null;

  constructor(readonly root: HTMLElement) {
    this.input = root.querySelector<HTMLInputElement>('[data-pw-input]')!;
    this.input.addEventListener('input', () => this.schedule());
    const generate = root.querySelector<HTMLButtonElement>('[data-pw-generate]');
    generate?.addEventListener('click', () => void this.generate());
    root.querySelector<HTMLButtonElement>('[data-pw-copy]')?.addEventListener('click', (e) => void this.copy(e.currentTarget as HTMLButtonElement));
    // A new mailbox: its address and name are part of the rules (not your name).
    const form = root.closest('form');
    for (const f of form?.querySelectorAll<HTMLInputElement>('[data-new-address], [data-new-name]') ?? []) f.addEventListener('input', () => this.input.value && this.schedule());
  }

  /** What the candidate is checked for (see the policy-check endpoint). */
  private target(): Record<string, string> {
    if (this.root.dataset.mode === 'new') {
      const form = this.root.closest('form');
      return {
        address: form?.querySelector<HTMLInputElement>('[data-new-address]')?.value ?? '',
        domain: this.root.dataset.domain ?? '',
        name: form?.querySelector<HTMLInputElement>('[data-new-name]')?.value ?? '',
      };
    }
    return { address: this.root.dataset.address ?? '' };
  }

  setAddress(address: string) {
    this.root.dataset.address = address;
  }

  reset() {
    this.input.value = '';
    this.inflight?.abort();
    this.rulesPending();
    this.violations([]);
    this.meter(0, false);
    const gen = this.root.querySelector<HTMLElement>('[data-pw-generated]');
    if (gen) gen.hidden = true;
    const value = this.root.querySelector<HTMLInputElement>('[data-pw-generated-value]');
    if (value) value.value = '';
  }

  schedule() {
    window.clearTimeout(this.timer);
    if (this.input.value === '') return this.reset();
    this.timer = window.setTimeout(() => void this.check(), DEBOUNCE_MS);
  }

  async check(): Promise<CheckAnswer | null> {
    this.inflight?.abort();
    const mine = new AbortController();
    this.inflight = mine;
    try {
      const answer = await postJson<CheckAnswer>('/console/api/policy-check', { ...this.target(), password: this.input.value }, mine.signal);
      if (this.inflight !== mine) return null;
      this.show(answer);
      return answer;
    } catch (err) {
      if ((err as Error).name === 'AbortError') return null;
      const p = err as Problem;
      if (p && typeof p.detail === 'string') this.violations([{ code: p.code, text: p.detail }]);
      return null;
    }
  }

  /** Until the check of a new value answers, no rule shows the old value's state. */
  private rulesPending() {
    for (const li of this.root.querySelectorAll<HTMLElement>('[data-rule]')) li.dataset.state = 'pending';
  }

  show(answer: CheckAnswer) {
    for (const rule of answer.rules) {
      const li = this.root.querySelector<HTMLElement>(`[data-rule="${CSS.escape(rule.code)}"]`);
      if (li) li.dataset.state = rule.state;
    }
    this.violations(answer.violations);
    this.meter(answer.score, true);
  }

  violations(list: Array<{ code?: string; text: string }>) {
    const ul = this.root.querySelector<HTMLElement>('[data-pw-violations]');
    if (!ul) return;
    ul.replaceChildren(...list.map((v) => Object.assign(document.createElement('li'), { textContent: v.text })));
    this.input.setAttribute('aria-invalid', list.length > 0 ? 'true' : 'false');
  }

  private meter(score: number, known: boolean) {
    const meter = this.root.querySelector<HTMLMeterElement>('[data-pw-meter]');
    const word = this.root.querySelector<HTMLElement>('[data-pw-strength]');
    const words = (this.root.dataset.words ?? '').split('|');
    if (meter) {
      meter.value = score;
      meter.setAttribute('aria-valuetext', known ? (words[score] ?? String(score)) : '');
    }
    if (word) word.textContent = known ? (words[score] ?? '') : '';
  }

  /** A strong password from the server, filled in and shown once, to be copied now. */
  async generate() {
    // Until the password arrives, submitting would send an empty field (or the one being replaced).
    const busy = [...(this.root.closest('form')?.querySelectorAll<HTMLButtonElement>('button[type=submit], [data-pw-generate]') ?? [])].filter((b) => !b.disabled);
    for (const b of busy) b.disabled = true;
    try {
      const { password } = await postJson<{ password: string }>('/console/api/generate', this.target());
      window.clearTimeout(this.timer);
      this.input.value = password;
      this.rulesPending();
      const gen = this.root.querySelector<HTMLElement>('[data-pw-generated]');
      const value = this.root.querySelector<HTMLInputElement>('[data-pw-generated-value]');
      if (gen && value) {
        value.value = password;
        gen.hidden = false;
        value.focus();
        value.select();
      }
      await this.check();
    } catch (err) {
      const p = err as Problem;
      this.violations([{ text: p?.detail ?? String(err) }]);
    } finally {
      for (const b of busy) b.disabled = false;
    }
  }

  private async copy(button: HTMLButtonElement) {
    const value = this.root.querySelector<HTMLInputElement>('[data-pw-generated-value]');
    if (!value) return;
    try {
      await navigator.clipboard.writeText(value.value);
    } catch {
      value.select(); // no clipboard permission (plain HTTP): leave it selected for Ctrl+C
      return;
    }
    const label = button.textContent;
    button.textContent = button.dataset.copied ?? label;
    window.setTimeout(() => (button.textContent = label), 2000);
  }
}
