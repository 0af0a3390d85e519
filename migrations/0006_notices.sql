-- Issue 14: notices by mail (password changed, expiry reminders), sent exactly
-- once per cluster from a job table.

-- Where a password-changed notice also goes (the owner's other address), and the
-- language of the notices; NULL: the domain's, then English.
ALTER TABLE mailboxes
  ADD COLUMN recovery_address text CHECK (recovery_address IS NULL OR recovery_address = lower(recovery_address)),
  ADD COLUMN notice_language text CHECK (notice_language IS NULL OR notice_language IN ('en', 'nl'));

-- Per-domain switch (the global one is [notices] enabled) and default language.
ALTER TABLE domains
  ADD COLUMN notices boolean NOT NULL DEFAULT true,
  ADD COLUMN notice_language text CHECK (notice_language IS NULL OR notice_language IN ('en', 'nl'));

-- One row per message. Enqueued in the transaction of the change it reports, so a
-- rolled-back change sends nothing and a crash after commit loses nothing.
-- queued → sending (claimed by one node, FOR UPDATE SKIP LOCKED) → sent;
-- a failed attempt goes back to queued with a later run_at, or to failed when
-- the relay refused it for good or the attempts are spent; skipped: a reminder
-- whose password changed before it went out.
CREATE TABLE notice_jobs (
  id                  bigserial PRIMARY KEY,
  kind                text NOT NULL CHECK (kind IN ('password_changed', 'expiry_reminder')),
  -- SET NULL: a notice about a change stays deliverable when the mailbox is deleted after it.
  mailbox_id          bigint REFERENCES mailboxes(id) ON DELETE SET NULL,
  recipient           text NOT NULL,
  language            text NOT NULL CHECK (language IN ('en', 'nl')),
  -- What the template shows: address, time, channel, source IP, expiry. Never a password or a link with a secret.
  details             jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Reminders: which credential version and how many days before its expiry.
  credential_version  integer,
  reminder_days       integer,
  state               text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
  attempts            integer NOT NULL DEFAULT 0,
  run_at              timestamptz NOT NULL DEFAULT now(),
  claim_token         uuid,
  claimed_by          text,
  claimed_at          timestamptz,
  last_error          text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  finished_at         timestamptz,
  CHECK ((kind = 'expiry_reminder') = (credential_version IS NOT NULL AND reminder_days IS NOT NULL))
);
CREATE INDEX notice_jobs_due_idx ON notice_jobs (run_at, id) WHERE state IN ('queued', 'sending');
CREATE INDEX notice_jobs_finished_idx ON notice_jobs (finished_at) WHERE state IN ('sent', 'failed', 'skipped');
-- One reminder per (mailbox, credential version, threshold, recipient), whichever node scans.
CREATE UNIQUE INDEX notice_jobs_reminder_once ON notice_jobs (mailbox_id, credential_version, reminder_days, recipient)
  WHERE kind = 'expiry_reminder';
