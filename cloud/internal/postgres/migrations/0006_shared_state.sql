-- State the cloud instances sharing this database must agree on (issue
-- 16): request quotas, the failed-login throttle and the event
-- notification counters.

-- One token bucket per limiter and key (ratelimit.Shared): tokens left
-- at at_ms; ok tells the last taker whether it got one. UNLOGGED: a crash
-- of the server forgets the buckets, as a restart of one instance forgot
-- them before (they start full).
CREATE UNLOGGED TABLE rate_buckets (
	key    TEXT PRIMARY KEY,
	tokens DOUBLE PRECISION NOT NULL,
	at_ms  BIGINT NOT NULL,
	ok     BOOLEAN NOT NULL
);

-- Failed logins per client address ("a:…") and per account ("u:…")
-- (ratelimit.LoginGuard).
CREATE TABLE login_failures (
	key     TEXT PRIMARY KEY,
	n       INTEGER NOT NULL,
	last_ms BIGINT NOT NULL
);

-- The event notifier's counters (cloud/eventnotify.go): per device and
-- event code the occurrences counted (every N-th), the last counted one
-- (minimum gap) and the last notification (limit period); per device
-- the events of its current UTC day; the offline events waiting for
-- their ignore period.
CREATE TABLE event_counters (
	device_uid  TEXT NOT NULL,
	code        TEXT NOT NULL,
	seen        BIGINT NOT NULL DEFAULT 0,
	last_ms     BIGINT NOT NULL DEFAULT 0,
	notified_ms BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (device_uid, code)
);
CREATE TABLE event_days (
	device_uid TEXT PRIMARY KEY,
	day        BIGINT NOT NULL DEFAULT 0,
	n          BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE event_offline (
	device_uid TEXT PRIMARY KEY,
	at_ms      BIGINT NOT NULL,
	due_ms     BIGINT NOT NULL
);
CREATE INDEX event_offline_due ON event_offline (due_ms);

-- History retention per organization (days; 0: no bound of its own):
-- the shortest of an org and its ancestors applies (cloud/retention.go).
ALTER TABLE orgs ADD COLUMN history_retention_days BIGINT NOT NULL DEFAULT 0;
