/**
 * The limits of the password policy, defined once: the config schema (global
 * policy), the per-domain override parser and the admin API's request schema are
 * all built from these, so a limit cannot differ between them.
 */

/** The longest password accepted anywhere, in UTF-8 bytes. */
export const MAX_PASSWORD_BYTES = 1024;

export interface PolicyRange {
  /** Inclusive integer bounds. */
  min: number;
  max: number;
  /** A per-domain override may be null (the config spells this setting's "off" as 0). */
  nullable: boolean;
}

/** Keyed as PolicySettings is. The upper bounds keep a policy satisfiable and cheap. */
export const POLICY_RANGES = {
  // A password may not exceed MAX_PASSWORD_BYTES, so a longer minimum could never
  // be met, not even by the generator.
  minLength: { min: 1, max: MAX_PASSWORD_BYTES, nullable: false },
  // 0 and 1 ask the same (a non-empty password has a class); 0 stays valid because
  // the API and CLI have always accepted it, and stored overrides may hold it.
  minClasses: { min: 0, max: 4, nullable: false },
  minScore: { min: 0, max: 4, nullable: false },
  // Each history entry costs one argon2 verify per change; 24 is also the ceiling
  // other systems use (e.g. Windows "Enforce password history").
  historyCount: { min: 0, max: 24, nullable: false },
  // null: this domain's passwords never expire.
  maxAgeDays: { min: 1, max: 36_500, nullable: true },
} as const satisfies Record<string, PolicyRange>;
