-- Issue 13: an expired app password stops working at once, also in Dovecot's
-- auth cache. mailpassd refuses it from expires_at on (each verify reads the
-- row), but a Dovecot that cached it keeps accepting it until auth_cache_ttl.
-- A periodic sweep (src/rotation/expiry-sweep.ts, one daemon at a time)
-- appends an invalidation for each app password past its expiry, as a
-- revocation does, and stamps it here so each expiry is swept once.
ALTER TABLE app_passwords ADD COLUMN expiry_invalidated_at timestamptz;

-- What the sweep reads: the expiring ones not swept yet, soonest first. Small
-- (only app passwords with an expiry, until swept), so a sweep that finds
-- nothing costs one index probe.
CREATE INDEX app_passwords_expiry_due_idx ON app_passwords (expires_at)
  WHERE expires_at IS NOT NULL AND expiry_invalidated_at IS NULL;

-- Expired long before this migration: no Dovecot cache still holds them (the
-- shipped auth_cache_ttl is 5 minutes), and a kick now would end sessions of
-- other devices on Dovecot 2.3 for nothing. Recent ones are left to the sweep.
UPDATE app_passwords SET expiry_invalidated_at = now()
  WHERE expires_at < now() - interval '1 hour';
