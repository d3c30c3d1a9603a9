-- IF NOT EXISTS: TestMigrationGrantsOwnDevicesClaim rewinds a database to
-- schema 5 and opens it again, which replays this migration.
-- Automations (issue 17): one row per automation, its model as the JSON of
-- shared/rules.Automation; runs as they were recorded, at a site (synced
-- up as telemetry, applied once) or in the cloud.
CREATE TABLE IF NOT EXISTS automations (
	id         TEXT    PRIMARY KEY,            -- ULID
	org_id     INTEGER NOT NULL,
	doc        TEXT    NOT NULL,               -- JSON of rules.Automation
	updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS automations_org ON automations(org_id);

CREATE TABLE IF NOT EXISTS automation_runs (
	id            INTEGER PRIMARY KEY,
	automation_id TEXT    NOT NULL,
	gateway_id    TEXT    NOT NULL DEFAULT '', -- '' for a run in the cloud
	device_uid    TEXT    NOT NULL DEFAULT '', -- the device the run was recorded under
	at            INTEGER NOT NULL,            -- ms, the trigger's time
	ok            INTEGER NOT NULL,            -- 1: every action succeeded and it was not cut
	cut           TEXT    NOT NULL DEFAULT '',
	doc           TEXT    NOT NULL             -- JSON of rules.Run
);
CREATE INDEX IF NOT EXISTS automation_runs_automation ON automation_runs(automation_id, id);

-- Notifications (issue 17): one row per person notified, with why it was
-- sent; the console's bell counts the unread ones.
CREATE TABLE IF NOT EXISTS notifications (
	id       INTEGER PRIMARY KEY,
	user_id  INTEGER NOT NULL,
	org_id   INTEGER NOT NULL,
	at       INTEGER NOT NULL, -- ms
	subject  TEXT    NOT NULL,
	body     TEXT    NOT NULL,
	why      TEXT    NOT NULL,
	read_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS notifications_user ON notifications(user_id, id);

-- Webhooks (issue 17): the model as JSON, whether enabled and the
-- consecutive failed deliveries; the durable delivery queue, which is
-- also the delivery log.
CREATE TABLE IF NOT EXISTS webhooks (
	id       INTEGER PRIMARY KEY,
	org_id   INTEGER NOT NULL,
	doc      TEXT    NOT NULL,   -- JSON of webhooks.Webhook (enabled kept in its column)
	enabled  INTEGER NOT NULL,
	failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhooks_org ON webhooks(org_id);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
	id         INTEGER PRIMARY KEY,
	webhook_id INTEGER NOT NULL,
	event      TEXT    NOT NULL,  -- JSON of webhooks.Event
	created    INTEGER NOT NULL,  -- ms
	state      TEXT    NOT NULL,  -- waiting, ok, failed
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_at    INTEGER NOT NULL,  -- ms
	code       INTEGER NOT NULL DEFAULT 0,
	latency_ms INTEGER NOT NULL DEFAULT 0,
	error      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(state, next_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id);
