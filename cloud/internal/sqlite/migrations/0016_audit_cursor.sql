-- Webhooks of audited changes (issue 17): device_created and
-- device_transferred deliveries are computed from the audit log. This one
-- row holds the last audit id turned into deliveries; a run reads the
-- entries after it, inserts their deliveries and moves it in one
-- transaction, so a crash neither loses nor doubles them. It starts at the
-- end of the log as it is: the history before it calls no webhook.
CREATE TABLE IF NOT EXISTS webhook_audit_cursor (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	last_id INTEGER NOT NULL
);
INSERT OR IGNORE INTO webhook_audit_cursor (id, last_id) SELECT 1, coalesce(max(id), 0) FROM audit;
