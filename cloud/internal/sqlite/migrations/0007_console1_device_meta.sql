-- Device metadata set by people (the console's Info & metadata tab, the
-- Platform API): tenancy, sent down with each gateway's view. What a device
-- reports of its own metadata stays telemetry (device_props, kind 'meta').
-- IF NOT EXISTS: TestMigrationGrantsOwnDevicesClaim rewinds to schema 5 and
-- runs every later migration again.
CREATE TABLE IF NOT EXISTS device_meta (
	device_id  INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
	name       TEXT    NOT NULL,
	value      TEXT    NOT NULL,
	updated_at INTEGER NOT NULL,
	updated_by INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (device_id, name)
) WITHOUT ROWID;
