/**
 * Password policy settings: the global defaults, per-domain overrides, and the
 * validation of overrides that arrive as untyped JSON (database column, admin API).
 * The limits of each setting are in core/policy-limits.ts.
 */
import type { Config } from '../config/index.js';
import { POLICY_RANGES, type PolicyRange } from '../core/policy-limits.js';

export interface PolicySettings {
  minLength: number;
  minClasses: number;
  minScore: 0 | 1 | 2 | 3 | 4;
  historyCount: number;
  maxAgeDays: number | null;
}

type PolicyKey = keyof PolicySettings;
/** Typed here so that a setting without a range does not compile. */
const RANGES: Record<PolicyKey, PolicyRange> = POLICY_RANGES;

export const DEFAULT_POLICY: PolicySettings = {
  minLength: 12,
  minClasses: 1,
  minScore: 3,
  historyCount: 5,
  maxAgeDays: null,
};

/**
 * The global policy from the config's [policy] section. The settings keep the
 * names a per-domain override has in the API and the database (`minLength`).
 */
export function configuredPolicy(p: Config['policy']): PolicySettings {
  return { minLength: p.min_length, minClasses: p.min_classes, minScore: p.min_score, historyCount: p.history_count, maxAgeDays: p.max_age_days };
}

export type PolicyOverrides = Partial<PolicySettings>;

export class PolicyOverrideError extends Error {
  readonly code = 'invalid_policy_override' as const;
  /** The offending key, or null when the value as a whole is not an object. */
  readonly key: string | null;

  constructor(key: string | null, message: string) {
    super(message);
    this.name = 'PolicyOverrideError';
    this.key = key;
  }
}

function isPolicyKey(key: string): key is PolicyKey {
  return Object.hasOwn(RANGES, key);
}

/** Domain values win where present; `undefined` means "inherit", `null` maxAgeDays means "never expires". */
export function effectivePolicy(global: PolicySettings, domain: PolicyOverrides | null): PolicySettings {
  const result: PolicySettings = { ...global };
  if (domain === null) return result;
  for (const key of Object.keys(RANGES) as PolicyKey[]) {
    const value = domain[key];
    if (value !== undefined) Object.assign(result, { [key]: value });
  }
  return result;
}

function checkValue(key: PolicyKey, value: unknown): void {
  const { min, max, nullable } = RANGES[key];
  if (value === null && nullable) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new PolicyOverrideError(key, `policy override "${key}" must be an integer from ${min} to ${max}${nullable ? ' or null' : ''}`);
  }
}

/**
 * Validates a policy override object. `null`/`undefined` (no overrides stored) yield `{}`;
 * anything else that is not a plain object, an unknown key, or a bad value throws.
 */
export function parsePolicyOverrides(value: unknown): PolicyOverrides {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new PolicyOverrideError(null, 'policy overrides must be a JSON object');
  }
  const result: PolicyOverrides = {};
  for (const [key, raw] of Object.entries(value)) {
    if (!isPolicyKey(key)) {
      throw new PolicyOverrideError(key, `unknown policy override "${key}"`);
    }
    checkValue(key, raw);
    Object.assign(result, { [key]: raw });
  }
  return result;
}
