-- The fan-out's guarantees (DESIGN §5, issue 10 points 1, 2, 7).

-- 1. Invalidation ids are handed out in commit order. A node reads `id > cursor`;
-- with a plain bigserial, a transaction that took id 10 but commits after the
-- one that took id 11 would be passed over for ever. Every insert first takes a
-- transaction-scoped advisory lock and only then draws its id, so the next
-- writer cannot draw an id before this one has committed or rolled back: every
-- id a reader can see has all lower ids already committed (or gone). Writers
-- append the invalidation as the last statement of their transaction, so the
-- lock is held for a commit only. Done in the database, not in the application,
-- so no writer (a future code path, a manual INSERT) can bypass it.
CREATE FUNCTION invalidations_in_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7411000002);
  NEW.id := nextval('invalidations_id_seq');
  RETURN NEW;
END $$;
-- Without a default, the id is drawn only by the trigger, under the lock (and the sequence has no gaps from it).
ALTER TABLE invalidations ALTER COLUMN id DROP DEFAULT;
CREATE TRIGGER invalidations_in_commit_order BEFORE INSERT ON invalidations
  FOR EACH ROW EXECUTE FUNCTION invalidations_in_commit_order();

-- 2. An invalidation a node gave up on after its retry budget: the node moved
-- on, and this row says that the rotation was NOT applied there, and why.
-- Removing the node (`node remove`) or pruning the invalidation removes it.
CREATE TABLE invalidation_failures (
  node_id          text NOT NULL REFERENCES nodes(node_id) ON DELETE CASCADE,
  invalidation_id  bigint NOT NULL REFERENCES invalidations(id) ON DELETE CASCADE,
  attempts         integer NOT NULL,
  error            text NOT NULL,
  failed_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (invalidation_id, node_id)
);
CREATE INDEX invalidation_failures_node_idx ON invalidation_failures (node_id, invalidation_id);
