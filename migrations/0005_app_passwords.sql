-- Issue 13: app passwords, one per device, next to the mailbox's main password.

-- The cluster-wide key of the app passwords' HMAC. Every node must compute the
-- same hash, so it lives in the database (created by the first daemon that needs
-- it, from the operating system's CSPRNG); it never leaves the process otherwise.
CREATE TABLE cluster_keys (
  name        text PRIMARY KEY,
  key         bytea NOT NULL CHECK (length(key) >= 32),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Generated secrets of >= 80 bits, so a keyed fast hash is enough (docs/app-passwords.md):
-- a login finds its row by (mailbox_id, secret_hmac) through the unique index,
-- however many app passwords the mailbox has, without argon2.
CREATE TABLE app_passwords (
  id                 bigserial PRIMARY KEY,
  mailbox_id         bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  name               text NOT NULL CHECK (name <> '' AND length(name) <= 64),
  secret_hmac        bytea NOT NULL,
  scopes             text[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['imap', 'pop3', 'smtp', 'sieve']),
  expires_at         timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  last_used_at       timestamptz,
  last_used_ip       text,
  last_used_service  text,
  UNIQUE (mailbox_id, name),
  UNIQUE (mailbox_id, secret_hmac)
);

-- Mail clients must use an app password (the main password is refused for
-- imap, pop3, smtp, sieve except from app_passwords.webmail_ips); per mailbox
-- or for a whole domain.
ALTER TABLE mailboxes ADD COLUMN require_app_passwords boolean NOT NULL DEFAULT false;
ALTER TABLE domains ADD COLUMN require_app_passwords boolean NOT NULL DEFAULT false;

-- A revocation is an invalidation that names the app password, so a node that
-- can kick by it (Dovecot 2.4: doveadm kick -f) ends only that device's sessions.
ALTER TABLE invalidations ADD COLUMN app_password_id bigint;

-- How each node kicks a revoked app password's sessions: 'app_password' (by the
-- passdb field) or 'mailbox' (all the mailbox's sessions); the revoke answer says which.
ALTER TABLE nodes ADD COLUMN app_password_kick text NOT NULL DEFAULT 'mailbox';
