-- Every login asked "does this mailbox have TOTP on?" (TOTP on = app passwords
-- required for mail) with an EXISTS on mailbox_totp: one more index probe per
-- verify, about a quarter of the login statement's cost in PostgreSQL. The answer
-- now sits on the mailbox row the login reads anyway, kept by a trigger, so no
-- code path that enrols, confirms, resets or deletes a second factor can forget it.
ALTER TABLE mailboxes ADD COLUMN totp_enabled boolean NOT NULL DEFAULT false;

UPDATE mailboxes m SET totp_enabled = true
FROM mailbox_totp t WHERE t.mailbox_id = m.id AND t.enabled_at IS NOT NULL;

CREATE FUNCTION mailbox_totp_flag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    UPDATE mailboxes SET totp_enabled = false WHERE id = OLD.mailbox_id AND totp_enabled;
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.mailbox_id <> NEW.mailbox_id THEN
    UPDATE mailboxes SET totp_enabled = false WHERE id = OLD.mailbox_id AND totp_enabled;
  END IF;
  UPDATE mailboxes SET totp_enabled = (NEW.enabled_at IS NOT NULL)
  WHERE id = NEW.mailbox_id AND totp_enabled IS DISTINCT FROM (NEW.enabled_at IS NOT NULL);
  RETURN NEW;
END $$;

CREATE TRIGGER mailbox_totp_flag AFTER INSERT OR UPDATE OR DELETE ON mailbox_totp
  FOR EACH ROW EXECUTE FUNCTION mailbox_totp_flag();
