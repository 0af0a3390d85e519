import { Type } from '@sinclair/typebox';
import { MAX_PASSWORD_BYTES, POLICY_RANGES } from '../../core/policy-limits.js';
import { MAX_WAIT_MS } from '../../rotation/wait.js';

/** Shared JSON schemas of the admin API: validation, serialisation and OpenAPI from one source. */
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });
export const AddressParam = Type.Object({ address: Text(320) }, { additionalProperties: false });
export const DomainParam = Type.Object({ domain: Text(253) }, { additionalProperties: false });

/**
 * A listing's query string: `limit`, `cursor` (the X-Next-Cursor of the page
 * before) and `q` (a case-insensitive substring search).
 */
const PageQuery = (o: { defaultLimit: number; cursor: string; cursorMax: number; q: string }) =>
  Type.Object(
    {
      // A query string is text (this API does not coerce): 1-1000, checked here by pattern.
      limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]{0,2}|1000)$', description: `page size, 1-1000 (default ${o.defaultLimit})` })),
      cursor: Type.Optional(Type.String({ minLength: 1, maxLength: o.cursorMax, description: `the X-Next-Cursor of the page before (${o.cursor})` })),
      q: Type.Optional(Type.String({ maxLength: 200, description: o.q })),
    },
    { additionalProperties: false },
  );

/** Paging a domain's mailboxes: the cursor is an address. */
export const MAILBOX_PAGE_DEFAULT = 100;
export const MailboxPageQuery = PageQuery({ defaultLimit: MAILBOX_PAGE_DEFAULT, cursor: 'an address', cursorMax: 320, q: 'a substring of the address or the display name' });

/** Paging the domains: the cursor is a domain name. The default page holds 1000, so a caller that never pages sees every domain of a smaller installation, as before paging. */
export const DOMAIN_PAGE_DEFAULT = 1000;
export const DomainPageQuery = PageQuery({ defaultLimit: DOMAIN_PAGE_DEFAULT, cursor: 'a domain name', cursorMax: 253, q: 'a substring of the domain name' });

/**
 * A page's body is still the plain array it was before paging; the way on is in
 * the headers, as GitHub's API does it. For a listing's 200 response schema.
 */
export const PageHeaders = {
  link: Type.String({ description: 'while there is more: `<URL of the next page>; rel="next"` (same limit and q)' }),
  'x-next-cursor': Type.String({ description: 'while there is more: the cursor of the next page' }),
};

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.String(),
    violations: Type.Optional(Type.Array(Type.Object({ code: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', additionalProperties: true },
);

export const Domain = Type.Object({
  name: Type.String(),
  enabled: Type.Boolean(),
  disabled_reason: Type.Union([Type.String(), Type.Null()]),
  policy: Type.Record(Type.String(), Type.Unknown()),
  mailbox_count: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  notices: Type.Boolean(),
  notice_language: Type.Union([Type.String(), Type.Null()]),
});

const Language = Type.Union([Type.Literal('en'), Type.Literal('nl'), Type.Null()], { description: 'language of the notices; null: the domain\'s, then en' });
const RecoveryAddress = Type.Union([Text(320), Type.Null()], { description: 'another address that also gets the password-changed notices' });

export const Mailbox = Type.Object({
  address: Type.String(),
  domain: Type.String(),
  display_name: Type.Union([Type.String(), Type.Null()]),
  enabled: Type.Boolean(),
  disabled_reason: Type.Union([Type.String(), Type.Null()]),
  must_change: Type.Boolean(),
  credential_version: Type.Integer(),
  password_changed_at: Type.String({ format: 'date-time' }),
  password_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  quota_bytes: Type.Union([Type.Integer(), Type.Null()]),
  home: Type.Union([Type.String(), Type.Null()]),
  uid: Type.Union([Type.String(), Type.Null()]),
  gid: Type.Union([Type.String(), Type.Null()]),
  mail: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  recovery_address: Type.Union([Type.String(), Type.Null()]),
  notice_language: Type.Union([Type.String(), Type.Null()]),
});

/**
 * Every password in a body: at most MAX_PASSWORD_BYTES UTF-8 bytes, the one limit
 * the auth listener, the policy and the CLI apply. A schema counts characters, so
 * it refuses what is too long in any encoding before anything is parsed or hashed;
 * the route checks the bytes (password_too_long).
 */
const Password = Type.String({ maxLength: MAX_PASSWORD_BYTES, description: `at most ${MAX_PASSWORD_BYTES} bytes in UTF-8` });

/**
 * Disabling refuses every mailbox's logins and flushes + kicks them on every node; the reason is what Dovecot is told.
 * `notices` and `notice_language`: notices by mail for the domain's mailboxes.
 */
export const DomainPatch = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    reason: Type.Optional(Type.Union([Type.String({ maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }), Type.Null()])),
    notices: Type.Optional(Type.Boolean()),
    notice_language: Type.Optional(Language),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const NewMailbox = Type.Object(
  {
    address: Text(320),
    display_name: Type.Optional(Type.Union([Type.String({ maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }), Type.Null()])),
    password: Type.Optional(Password),
    generate: Type.Optional(Type.Boolean()),
    quota_bytes: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    recovery_address: Type.Optional(RecoveryAddress),
    notice_language: Type.Optional(Language),
  },
  { additionalProperties: false },
);

export const MailboxPatch = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    disabled_reason: Type.Optional(Type.Union([Type.String({ maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }), Type.Null()])),
    display_name: Type.Optional(Type.Union([Type.String({ maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }), Type.Null()])),
    quota_bytes: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
    must_change: Type.Optional(Type.Boolean()),
    recovery_address: Type.Optional(RecoveryAddress),
    notice_language: Type.Optional(Language),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const RotateBody = Type.Object(
  {
    password: Type.Optional(Password),
    generate: Type.Optional(Type.Boolean()),
    wait_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_MS })),
    kick: Type.Optional(Type.Boolean()),
    revoke_app_passwords: Type.Optional(Type.Boolean({ description: 'also delete every app password of the mailbox, in the same transaction' })),
  },
  { additionalProperties: false },
);

export const NodeOutcome = Type.Object({
  node_id: Type.String(),
  applied: Type.Boolean(),
  stale: Type.Boolean(),
  error: Type.Optional(Type.String()),
  failed: Type.Optional(Type.Literal(true)),
});

export const RotateResult = Type.Object({
  address: Type.String(),
  credential_version: Type.Integer(),
  invalidation_id: Type.String(),
  generated_password: Type.Optional(Type.String()),
  revoked_app_passwords: Type.Optional(Type.Integer()),
  complete: Type.Boolean(),
  nodes: Type.Array(NodeOutcome),
});

export const SelfServiceBody = Type.Object(
  {
    user: Text(320),
    curpass: Password,
    newpass: Password,
  },
  { additionalProperties: false },
);

/** The user's interface language as Roundcube names it (`nl_NL`, `en_US`); texts come in nl or en (the default). */
const Lang = Type.Optional(Type.String({ maxLength: 35, pattern: '^[A-Za-z]{2,8}([_-][A-Za-z0-9]{1,8})*$', description: 'nl… → Dutch, anything else → English' }));

/** The Roundcube mailpassd driver's change: the httpapi fields plus the language of the answer's texts. */
export const SelfServiceChangeBody = Type.Object({ user: Text(320), curpass: Password, newpass: Password, lang: Lang }, { additionalProperties: false });
export const SelfServicePolicyBody = Type.Object({ user: Text(320), lang: Lang }, { additionalProperties: false });
export const SelfServicePolicyCheckBody = Type.Object({ user: Text(320), password: Password, lang: Lang }, { additionalProperties: false });

const LocalizedViolation = Type.Object({ code: Type.String(), message: Type.String() });
export const SelfServicePolicyAnswer = Type.Object({
  lang: Type.Union([Type.Literal('en'), Type.Literal('nl')]),
  rules: Type.Array(Type.Object({ code: Type.String(), text: Type.String() })),
});
export const SelfServicePolicyCheckAnswer = Type.Object({
  lang: Type.Union([Type.Literal('en'), Type.Literal('nl')]),
  ok: Type.Boolean(),
  score: Type.Integer({ minimum: 0, maximum: 4, description: 'zxcvbn 0-4' }),
  violations: Type.Array(LocalizedViolation),
});
export const SelfServiceChangeAnswer = Type.Object({ result: Type.Literal('ok') });

/**
 * A domain's policy overrides, built from the same ranges as the override parser
 * and the config, so the API refuses exactly what the policy would: an unknown
 * key or an out-of-range value is a 400 naming the field. Absent keys inherit
 * the global policy; `{}` drops every override.
 */
export const PolicyOverridesBody = Type.Object(
  Object.fromEntries(
    Object.entries(POLICY_RANGES).map(([key, { min, max, nullable }]) => {
      const int = Type.Integer({ minimum: min, maximum: max });
      return [key, Type.Optional(nullable ? Type.Union([int, Type.Null()]) : int)];
    }),
  ),
  { additionalProperties: false },
);
