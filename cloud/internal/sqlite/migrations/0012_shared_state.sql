-- The event notifier's counters (cloud/eventnotify.go), kept so that a
-- restart honours the limits: per device and event code the occurrences
-- counted (every N-th), the last counted one (minimum gap) and the last
-- notification (limit period); per device the events of its current UTC
-- day; the offline events waiting for their ignore period.
CREATE TABLE IF NOT EXISTS event_counters (
	device_uid  TEXT NOT NULL,
	code        TEXT NOT NULL,
	seen        INTEGER NOT NULL DEFAULT 0,
	last_ms     INTEGER NOT NULL DEFAULT 0,
	notified_ms INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (device_uid, code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_days (
	device_uid TEXT PRIMARY KEY,
	day        INTEGER NOT NULL DEFAULT 0,
	n          INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_offline (
	device_uid TEXT PRIMARY KEY,
	at_ms      INTEGER NOT NULL,
	due_ms     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_offline_due ON event_offline(due_ms);

-- History retention per organization (days; 0: no bound of its own):
-- the shortest of an org and its ancestors applies (cloud/retention.go).
ALTER TABLE orgs ADD COLUMN history_retention_days INTEGER NOT NULL DEFAULT 0;
