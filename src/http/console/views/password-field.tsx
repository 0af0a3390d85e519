import type { Catalog } from '../i18n/index.js';

export interface RuleView {
  code: string;
  text: string;
}

/**
 * The new-password field with what goes with it everywhere: the rules listed
 * before anyone types (each `li[data-rule]`, its `data-state` updated by
 * console.js from the policy-check answers), the strength meter and, where an
 * admin sets it, "Generate" with the once-shown result and "Copy".
 * `check` names what the candidate is checked for: an existing mailbox, or a new
 * one whose address and name come from the form's fields.
 */
export function PasswordField(p: {
  t: Catalog;
  id: string;
  rules: RuleView[];
  label: string;
  name: string;
  check: { mode: 'existing'; address: string } | { mode: 'new'; domain: string };
  generate: boolean;
}) {
  const { t, id } = p;
  return (
    <div
      class="pw"
      data-pw
      data-mode={p.check.mode}
      data-address={p.check.mode === 'existing' ? p.check.address : undefined}
      data-domain={p.check.mode === 'new' ? p.check.domain : undefined}
      data-words={t.strengthWords.join('|')}
    >
      <h2 id={`${id}-req`} class="small" safe>
        {t.requirements}
      </h2>
      <ul class="rules" aria-labelledby={`${id}-req`} data-rules>
        {p.rules.map((r) => (
          <li data-rule={r.code} data-state="pending" safe>
            {r.text}
          </li>
        ))}
      </ul>
      <label for={`${id}-input`} safe>
        {p.label}
      </label>
      <input id={`${id}-input`} name={p.name} type="password" autocomplete="new-password" required aria-describedby={`${id}-req ${id}-violations`} data-pw-input />
      <div class="strength">
        <label for={`${id}-meter`} safe>
          {t.strength}
        </label>
        <meter id={`${id}-meter`} min="0" max="4" low="2" high="3" optimum="4" value="0" data-pw-meter></meter>
        <span data-pw-strength aria-hidden="true"></span>
      </div>
      <ul class="violations" id={`${id}-violations`} data-pw-violations aria-live="polite"></ul>
      {p.generate && (
        <>
          <button type="button" data-pw-generate safe>
            {t.generate}
          </button>
          <div class="generated" data-pw-generated hidden>
            <label for={`${id}-generated`} safe>
              {t.generatedPassword}
            </label>
            <input id={`${id}-generated`} type="text" readonly autocomplete="off" spellcheck="false" data-pw-generated-value />
            <button type="button" data-pw-copy data-copied={t.copied} safe>
              {t.copy}
            </button>
            <p class="hint" safe>
              {t.generatedOnce}
            </p>
          </div>
        </>
      )}
    </div>
  );
}
