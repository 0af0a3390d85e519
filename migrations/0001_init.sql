-- mailpassd schema (DESIGN §2). Applied once, under an advisory lock, in one transaction.

CREATE TABLE domains (
  name        text PRIMARY KEY CHECK (name = lower(name) AND name <> ''),
  enabled     boolean NOT NULL DEFAULT true,
  -- Policy overrides for this domain: keys of PolicySettings, validated by the application.
  policy      jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mailboxes (
  id                   bigserial PRIMARY KEY,
  address              text NOT NULL UNIQUE CHECK (address = lower(address)),
  domain               text NOT NULL REFERENCES domains(name) ON DELETE RESTRICT,
  display_name         text,
  -- PHC string ({ARGON2ID}-compatible parameter order) or an imported legacy hash with a {SCHEME} prefix.
  password_hash        text NOT NULL,
  credential_version   integer NOT NULL DEFAULT 1,
  password_changed_at  timestamptz NOT NULL DEFAULT now(),
  password_expires_at  timestamptz,
  must_change          boolean NOT NULL DEFAULT false,
  enabled              boolean NOT NULL DEFAULT true,
  disabled_reason      text,
  quota_bytes          bigint CHECK (quota_bytes IS NULL OR quota_bytes >= 0),
  home                 text,
  uid                  text,
  gid                  text,
  mail_location        text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mailboxes_domain_idx ON mailboxes (domain, address);

CREATE TABLE password_history (
  id            bigserial PRIMARY KEY,
  mailbox_id    bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  password_hash text NOT NULL,
  set_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_history_mailbox_idx ON password_history (mailbox_id, id DESC);

-- Append-only: never holds a password or a hash.
CREATE TABLE audit_log (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,
  action     text NOT NULL,
  target     text,
  source_ip  text,
  details    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_target_idx ON audit_log (target, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE admin_tokens (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL UNIQUE,
  token_sha256  bytea NOT NULL UNIQUE,
  scopes        text[] NOT NULL DEFAULT ARRAY['admin'],
  domain        text REFERENCES domains(name) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

CREATE TABLE invalidations (
  id          bigserial PRIMARY KEY,
  address     text NOT NULL,
  reason      text NOT NULL,
  kick        boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
  node_id                  text PRIMARY KEY,
  hostname                 text NOT NULL,
  started_at               timestamptz NOT NULL DEFAULT now(),
  heartbeat_at             timestamptz NOT NULL DEFAULT now(),
  applied_invalidation_id  bigint NOT NULL DEFAULT 0,
  last_error               text,
  doveadm                  text NOT NULL DEFAULT 'none'
);
