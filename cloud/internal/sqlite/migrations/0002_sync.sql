-- Gateway sync (issue 6): device UIDs, gateway credentials, telemetry.

-- UIDs of existing rows are backfilled by Open (ULIDs need randomness).
ALTER TABLE devices ADD COLUMN uid TEXT;
CREATE UNIQUE INDEX devices_uid ON devices(uid);

-- SHA-256 of the gateway's bearer credential; NULL once revoked.
ALTER TABLE gateways ADD COLUMN credential_hash BLOB;
CREATE UNIQUE INDEX gateways_credential ON gateways(credential_hash);

-- Highest telemetry seq applied per gateway and outbox epoch; written in
-- the same transaction as the items, so a replayed batch changes nothing.
CREATE TABLE telemetry_cursors (
	gateway_id TEXT    NOT NULL,
	epoch      INTEGER NOT NULL,
	applied    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (gateway_id, epoch)
) WITHOUT ROWID;

-- Telemetry is keyed by device UID and has no foreign keys: it outlives a
-- deleted device the way the audit log does.
CREATE TABLE device_values (
	device_uid TEXT    NOT NULL,
	pin        INTEGER NOT NULL,
	value      TEXT    NOT NULL,
	ts         INTEGER NOT NULL,
	PRIMARY KEY (device_uid, pin)
) WITHOUT ROWID;

CREATE TABLE device_history (
	id         INTEGER PRIMARY KEY,
	device_uid TEXT    NOT NULL,
	pin        INTEGER NOT NULL,
	value      TEXT    NOT NULL,
	ts         INTEGER NOT NULL
);
CREATE INDEX device_history_pin ON device_history(device_uid, pin, id);

CREATE TABLE device_events (
	id          INTEGER PRIMARY KEY,
	device_uid  TEXT    NOT NULL,
	kind        TEXT    NOT NULL, -- event, clear, online, offline
	code        TEXT    NOT NULL,
	description TEXT    NOT NULL,
	ts          INTEGER NOT NULL
);
CREATE INDEX device_events_device ON device_events(device_uid, id);

CREATE TABLE device_status (
	device_uid TEXT    PRIMARY KEY,
	gateway_id TEXT    NOT NULL,
	online     INTEGER NOT NULL DEFAULT 0,
	transport  TEXT    NOT NULL DEFAULT '',
	last_seen  INTEGER NOT NULL DEFAULT 0,
	info       TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- Widget properties (pin, name) and metadata (pin 0... keyed by kind).
CREATE TABLE device_props (
	device_uid TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	pin        INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	value      TEXT    NOT NULL,
	ts         INTEGER NOT NULL,
	PRIMARY KEY (device_uid, kind, pin, name)
) WITHOUT ROWID;
