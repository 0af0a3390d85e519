-- Issue 11: every field of the schema is enforced or gone.

-- A disabled domain refuses the logins of all its mailboxes (the auth path reads
-- domains.enabled with the mailbox, one indexed join). The reason is what Dovecot
-- is told, as for a disabled mailbox.
ALTER TABLE domains ADD COLUMN disabled_reason text;

-- Token scopes were written (always {admin}) and never read: a token's reach is
-- its domain (NULL = all). Dropped rather than left to look like a control.
ALTER TABLE admin_tokens DROP COLUMN scopes;
