import type { PolicyOverrides, PolicySettings } from '../../../policy/settings.js';
import { POLICY_RANGES } from '../../../core/policy-limits.js';
import { Csrf, Layout, type Frame } from './layout.js';
import { domainPath } from './format.js';

export interface PolicyView {
  domain: string;
  effective: PolicySettings;
  /** The global policy, shown as what an empty field inherits. */
  global: PolicySettings;
  overrides: PolicyOverrides;
  editable: boolean;
  error: string | null;
}

const FIELDS = (['minLength', 'maxAgeDays', 'historyCount', 'minScore'] as const).map((key) => ({ key, label: key, ...POLICY_RANGES[key] }));

export function PolicyPage({ frame, view, csrf }: { frame: Frame; view: PolicyView; csrf: string }) {
  const { t } = frame;
  return (
    <Layout frame={{ ...frame, current: 'domains' }} title={`${t.passwordPolicy} · ${view.domain}`}>
      <p class="crumbs">
        <a href={domainPath(view.domain)} safe>
          {view.domain}
        </a>
      </p>
      <h1 safe>{t.passwordPolicy}</h1>
      {view.error !== null && (
        <p role="alert" class="error" safe>
          {view.error}
        </p>
      )}
      {!view.editable && <p safe>{t.readOnlyPolicy}</p>}
      <form method="post" action={domainPath(view.domain, '/policy')} class="stack narrow">
        <Csrf token={csrf} />
        <p class="hint" safe>
          {t.blankInherits}
        </p>
        {FIELDS.map((f) => {
          const own = view.overrides[f.key];
          const inherited = view.global[f.key];
          return (
            <>
              <label for={`policy-${f.key}`} safe>
                {t[f.label]}
              </label>
              <input
                id={`policy-${f.key}`}
                name={f.key}
                type="number"
                min={String(f.min)}
                max={String(f.max)}
                value={own === undefined || own === null ? '' : String(own)}
                placeholder={inherited === null ? '' : String(inherited)}
                aria-describedby={`policy-${f.key}-hint`}
                disabled={!view.editable}
              />
              <span id={`policy-${f.key}-hint`} class="hint" safe>
                {t.inherited(inherited === null ? t.never : String(inherited))}
              </span>
            </>
          );
        })}
        {view.editable && (
          <button type="submit" safe>
            {t.savePolicy}
          </button>
        )}
      </form>
    </Layout>
  );
}
