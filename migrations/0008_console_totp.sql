-- Issue 13: a second factor (TOTP) for the web console.

-- One row per mailbox that started enrolment. enabled_at NULL: enrolment not yet
-- confirmed with a code (the secret does nothing until then). The secret is the
-- base32 text an authenticator app is given; it is needed in clear to compute
-- codes, so it is stored as is and never logged. last_step: the last 30-second
-- step a code was accepted for, so a code is never accepted twice.
CREATE TABLE mailbox_totp (
  mailbox_id  bigint PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
  secret      text NOT NULL,
  enabled_at  timestamptz,
  last_step   bigint NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Single-use recovery codes: random, so SHA-256 is enough (nothing to brute-force
-- from a dictionary). Replaced as a set at each enrolment; deleted with TOTP.
CREATE TABLE totp_recovery_codes (
  mailbox_id   bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  code_sha256  bytea NOT NULL,
  used_at      timestamptz,
  PRIMARY KEY (mailbox_id, code_sha256)
);

-- The half-signed-in state: the password was right, the code is still due. It is
-- not a console session (it opens no page); only the SHA-256 of its cookie is stored.
CREATE TABLE console_login_challenges (
  token_sha256  bytea PRIMARY KEY,
  mailbox_id    bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  expires_at    timestamptz NOT NULL
);
CREATE INDEX console_login_challenges_expires_idx ON console_login_challenges (expires_at);
