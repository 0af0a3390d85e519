/**
 * Password policy settings: the global defaults, per-domain overrides, and the
 * validation of overrides that arrive as untyped JSON (database column, admin API).
 */

export interface PolicySettings {
  minLength: number;
  minClasses: number;
  minScore: 0 | 1 | 2 | 3 | 4;
  historyCount: number;
  maxAgeDays: number | null;
}

export const DEFAULT_POLICY: PolicySettings = {
  minLength: 12,
  minClasses: 1,
  minScore: 3,
  historyCount: 5,
  maxAgeDays: null,
};

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

/** Inclusive integer ranges. The upper bounds keep a policy satisfiable and cheap. */
const INT_RANGES = {
  // 1024: a password may not exceed 1024 bytes (MAX_PASSWORD_BYTES), so a longer
  // minimum could never be met, not even by the generator.
  minLength: [1, 1024],
  minClasses: [0, 4],
  minScore: [0, 4],
  // Each history entry costs one argon2 verify per change; 24 is also the ceiling
  // other systems use (e.g. Windows "Enforce password history").
  historyCount: [0, 24],
  maxAgeDays: [1, 36500],
} as const satisfies Record<keyof PolicySettings, readonly [number, number]>;

type PolicyKey = keyof typeof INT_RANGES;

function isPolicyKey(key: string): key is PolicyKey {
  return Object.hasOwn(INT_RANGES, key);
}

/** Domain values win where present; `undefined` means "inherit", `null` maxAgeDays means "never expires". */
export function effectivePolicy(global: PolicySettings, domain: PolicyOverrides | null): PolicySettings {
  const result: PolicySettings = { ...global };
  if (domain === null) return result;
  for (const key of Object.keys(INT_RANGES) as PolicyKey[]) {
    const value = domain[key];
    if (value !== undefined) Object.assign(result, { [key]: value });
  }
  return result;
}

function checkValue(key: PolicyKey, value: unknown): void {
  // Only maxAgeDays may be null: it is how a domain switches expiry off.
  if (value === null && key === 'maxAgeDays') return;
  const [min, max] = INT_RANGES[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const nullable = key === 'maxAgeDays' ? ' or null' : '';
    throw new PolicyOverrideError(key, `policy override "${key}" must be an integer from ${min} to ${max}${nullable}`);
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
