-- Issue 15: a domain admin's view of the audit log, read through an index.
--
-- The console shows a domain admin the entries whose target is one of their
-- domains or an address in one of them. Filtering on
-- `target = ANY(d) OR split_part(target, '@', 2) = ANY(d)` matched no index, so
-- every page walked the log backwards by id until it had found enough entries:
-- for a small domain in a log of 10M rows, a read of the whole log per page.
--
-- The domain an entry is about, as one expression: the part after the '@' of
-- an address, else the target itself (a domain; or a token or node name, which
-- matches a domain admin's domain only if it is spelled the same, as before).
-- The same rows the old filter matched: a domain never contains '@', and a
-- target without one has no part after it.
CREATE FUNCTION audit_target_domain(target text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN strpos(target, '@') > 0 THEN split_part(target, '@', 2) ELSE target END;

-- An expression index, not a stored column: it needs no change to the rows, so
-- the append-only trigger (which refuses every UPDATE) and the retention's
-- DELETE (0007) are untouched, the existing rows are indexed as it is built (no
-- backfill to run), and new rows are indexed as they are appended. With `id`
-- second, one domain's newest entries are an index range read backwards from a
-- page's cursor: src/store/sql/audit.ts reads each domain that way and merges.
CREATE INDEX audit_log_target_domain_idx ON audit_log (audit_target_domain(target), id);
