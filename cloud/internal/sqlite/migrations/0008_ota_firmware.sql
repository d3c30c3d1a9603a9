-- Firmware over the air (issue 18): uploaded images (the bytes live in
-- the blob store, named by sha256), shipments and the per-device statuses
-- the gateways report.
CREATE TABLE IF NOT EXISTS ota_firmware (
	id          INTEGER PRIMARY KEY,
	root_id     INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	template_id TEXT    NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
	name        TEXT    NOT NULL,
	sha256      BLOB    NOT NULL,
	md5         BLOB    NOT NULL,
	size        INTEGER NOT NULL,
	version     TEXT    NOT NULL,
	fw_type     TEXT    NOT NULL,
	build       TEXT    NOT NULL,
	created_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ota_firmware_template ON ota_firmware(template_id, id);
CREATE INDEX IF NOT EXISTS ota_firmware_sha ON ota_firmware(sha256);

CREATE TABLE IF NOT EXISTS ota_shipments (
	id              INTEGER PRIMARY KEY,
	root_id         INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	name            TEXT    NOT NULL,
	firmware_id     INTEGER NOT NULL REFERENCES ota_firmware(id),
	template_id     TEXT    NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
	devices         TEXT    NOT NULL DEFAULT '', -- comma-separated device ids; '' = every device of the template
	window          TEXT    NOT NULL,
	rule            TEXT    NOT NULL,
	attempts        INTEGER NOT NULL,
	user_controlled INTEGER NOT NULL DEFAULT 0,
	state           TEXT    NOT NULL,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	UNIQUE (root_id, name)
);
CREATE INDEX IF NOT EXISTS ota_shipments_root ON ota_shipments(root_id, state);

CREATE TABLE IF NOT EXISTS ota_device_status (
	shipment_id INTEGER NOT NULL REFERENCES ota_shipments(id) ON DELETE CASCADE,
	device_id   INTEGER NOT NULL,
	status      TEXT    NOT NULL,
	approved    INTEGER NOT NULL DEFAULT 0,
	attempts    INTEGER NOT NULL DEFAULT 0,
	version     TEXT    NOT NULL DEFAULT '',
	detail      TEXT    NOT NULL DEFAULT '',
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (shipment_id, device_id)
) WITHOUT ROWID;
