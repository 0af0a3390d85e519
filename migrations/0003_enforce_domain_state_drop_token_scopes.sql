-- Issue 11: every field of the schema is enforced or gone.

-- Token scopes were written (always {admin}) and never read: a token's reach is
-- its domain (NULL = all). Dropped rather than left to look like a control.
ALTER TABLE admin_tokens DROP COLUMN scopes;
