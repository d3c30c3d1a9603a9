-- Webhooks of audited changes (issue 17): device_created and
-- device_transferred deliveries are computed from the audit log. This one
-- row holds the last audit id turned into deliveries; a run locks it,
-- reads the entries after it, inserts their deliveries and moves it in one
-- transaction, so a crash neither loses nor doubles them and two instances
-- never run at once. It starts at the end of the log as it is: the history
-- before it calls no webhook.
CREATE TABLE webhook_audit_cursor (
	id      bigint PRIMARY KEY CHECK (id = 1),
	last_id bigint   NOT NULL
);
INSERT INTO webhook_audit_cursor (id, last_id) SELECT 1, coalesce(max(id), 0) FROM audit;
