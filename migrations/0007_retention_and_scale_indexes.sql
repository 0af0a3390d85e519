-- Issue 15: retention at 10M rows, and the indexes its pruning reads.

-- 1. The audit log stays append-only for everything inside the retention
-- window. A DELETE passes the trigger only for a row older than the retention
-- the pruning transaction declares (`SET LOCAL mailpassd.audit_retention`,
-- src/store/sql/retention.ts), and never for a row younger than one day,
-- whatever is declared: a mistaken or hostile setting cannot empty the recent
-- log. UPDATE is refused always, as before.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  keep interval;
BEGIN
  IF TG_OP = 'DELETE' THEN
    keep := NULLIF(current_setting('mailpassd.audit_retention', true), '')::interval;
    IF keep IS NOT NULL AND keep >= interval '1 day' AND OLD.at < now() - keep THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only';
END $$;

-- TRUNCATE fires no row trigger: without this, one statement could empty the log.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- 2. Pruning by age reads the oldest rows first and stops after a batch; without
-- an index on `at`, a pass that finds nothing to prune would read the whole log.
CREATE INDEX audit_log_at_idx ON audit_log (at);
