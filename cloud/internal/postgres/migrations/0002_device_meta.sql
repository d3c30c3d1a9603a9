-- Device metadata set by people (the console's Info & metadata tab, the
-- Platform API): tenancy, sent down with each gateway's view. What a device
-- reports of its own metadata stays telemetry (device_props, kind 'meta').
CREATE TABLE device_meta (
	device_id  bigint NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
	name       text   NOT NULL,
	value      text   NOT NULL,
	updated_at bigint NOT NULL,
	updated_by bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (device_id, name)
);
