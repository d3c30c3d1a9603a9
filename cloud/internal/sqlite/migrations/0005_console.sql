-- The console (issue 13): device locations, the device list's sort keys,
-- and history aggregation.

ALTER TABLE devices ADD COLUMN location_id INTEGER REFERENCES locations(id) ON DELETE SET NULL;
CREATE INDEX devices_location ON devices(location_id, id) WHERE location_id IS NOT NULL;

-- A template's name lives in its definition.
ALTER TABLE templates ADD COLUMN name TEXT GENERATED ALWAYS AS (coalesce(json_extract(def, '$.name'), '')) VIRTUAL;

-- The device list sorts and filters on what other tables hold (org,
-- template and owner names; online and last reported from telemetry).
-- Each device row carries a copy, kept by the triggers below, so that every
-- order is a walk of one (key, id) index and every filter a column test:
-- a page of 50 out of 100,000 devices reads about 50 rows instead of
-- joining and sorting them all. The copies change only when a name, an
-- owner, an org or a connection state changes.
ALTER TABLE devices ADD COLUMN org_name      TEXT    NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN template_name TEXT    NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN owner_name    TEXT    NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN online        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN last_reported INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER devices_list_insert AFTER INSERT ON devices BEGIN
	UPDATE devices SET
		org_name = coalesce((SELECT name FROM orgs WHERE id = NEW.org_id), ''),
		template_name = coalesce((SELECT name FROM templates WHERE id = NEW.template_id), ''),
		owner_name = coalesce((SELECT CASE WHEN name <> '' THEN name ELSE email END FROM users WHERE id = NEW.owner_id), ''),
		online = coalesce((SELECT online FROM device_status WHERE device_uid = NEW.uid), 0),
		last_reported = coalesce((SELECT last_seen FROM device_status WHERE device_uid = NEW.uid), 0)
	WHERE id = NEW.id;
END;
CREATE TRIGGER devices_list_refs AFTER UPDATE OF org_id, template_id, owner_id ON devices BEGIN
	UPDATE devices SET
		org_name = coalesce((SELECT name FROM orgs WHERE id = NEW.org_id), ''),
		template_name = coalesce((SELECT name FROM templates WHERE id = NEW.template_id), ''),
		owner_name = coalesce((SELECT CASE WHEN name <> '' THEN name ELSE email END FROM users WHERE id = NEW.owner_id), '')
	WHERE id = NEW.id;
END;
CREATE TRIGGER devices_list_uid AFTER UPDATE OF uid ON devices BEGIN
	UPDATE devices SET
		online = coalesce((SELECT online FROM device_status WHERE device_uid = NEW.uid), 0),
		last_reported = coalesce((SELECT last_seen FROM device_status WHERE device_uid = NEW.uid), 0)
	WHERE id = NEW.id;
END;
CREATE TRIGGER orgs_list_name AFTER UPDATE OF name ON orgs WHEN OLD.name IS NOT NEW.name BEGIN
	UPDATE devices SET org_name = NEW.name WHERE org_id = NEW.id;
END;
CREATE TRIGGER templates_list_name AFTER UPDATE OF def ON templates WHEN OLD.name IS NOT NEW.name BEGIN
	UPDATE devices SET template_name = NEW.name WHERE template_id = NEW.id;
END;
CREATE TRIGGER users_list_name AFTER UPDATE OF name, email ON users
WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email BEGIN
	UPDATE devices SET owner_name = CASE WHEN NEW.name <> '' THEN NEW.name ELSE NEW.email END WHERE owner_id = NEW.id;
END;
CREATE TRIGGER device_status_list_insert AFTER INSERT ON device_status BEGIN
	UPDATE devices SET online = NEW.online, last_reported = NEW.last_seen WHERE uid = NEW.device_uid;
END;
CREATE TRIGGER device_status_list_update AFTER UPDATE OF online, last_seen ON device_status
WHEN OLD.online IS NOT NEW.online OR OLD.last_seen IS NOT NEW.last_seen BEGIN
	UPDATE devices SET online = NEW.online, last_reported = NEW.last_seen WHERE uid = NEW.device_uid;
END;

UPDATE devices SET
	org_name = coalesce((SELECT name FROM orgs WHERE id = devices.org_id), ''),
	template_name = coalesce((SELECT name FROM templates WHERE id = devices.template_id), ''),
	owner_name = coalesce((SELECT CASE WHEN name <> '' THEN name ELSE email END FROM users WHERE id = devices.owner_id), ''),
	online = coalesce((SELECT online FROM device_status WHERE device_uid = devices.uid), 0),
	last_reported = coalesce((SELECT last_seen FROM device_status WHERE device_uid = devices.uid), 0);

-- One (key, id) index per order; the scope is then probed per row (or,
-- for small scopes, gathered from devices_org and sorted).
CREATE INDEX devices_name          ON devices(name COLLATE NOCASE, id);
CREATE INDEX devices_status        ON devices(online, id);
CREATE INDEX devices_last_reported ON devices(last_reported, id);
CREATE INDEX devices_template_name ON devices(template_name COLLATE NOCASE, id);
CREATE INDEX devices_org_name      ON devices(org_name COLLATE NOCASE, id);
CREATE INDEX devices_owner_name    ON devices(owner_name COLLATE NOCASE, id);
-- Counting a filtered scope reads index entries only, org by org.
CREATE INDEX devices_org_filters   ON devices(org_id, template_id, online);
CREATE INDEX device_tags_tag       ON device_tags(tag_id, device_id);

-- Online devices per org, next to the device counts (migration 0001):
-- the online and offline filters' totals are then one row read. MoveOrg
-- shifts n_online_subtree with n_subtree.
ALTER TABLE org_device_counts ADD COLUMN n_online_direct  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE org_device_counts ADD COLUMN n_online_subtree INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER devices_online_count AFTER UPDATE OF online ON devices WHEN OLD.online <> NEW.online BEGIN
	UPDATE org_device_counts SET n_online_direct = n_online_direct + NEW.online - OLD.online WHERE org_id = NEW.org_id;
	UPDATE org_device_counts SET n_online_subtree = n_online_subtree + NEW.online - OLD.online
	WHERE org_id IN (SELECT ancestor FROM org_closure WHERE descendant = NEW.org_id);
END;
CREATE TRIGGER devices_online_count_delete AFTER DELETE ON devices WHEN OLD.online = 1 BEGIN
	UPDATE org_device_counts SET n_online_direct = n_online_direct - 1 WHERE org_id = OLD.org_id;
	UPDATE org_device_counts SET n_online_subtree = n_online_subtree - 1
	WHERE org_id IN (SELECT ancestor FROM org_closure WHERE descendant = OLD.org_id);
END;
CREATE TRIGGER devices_online_count_move AFTER UPDATE OF org_id ON devices
WHEN OLD.org_id <> NEW.org_id AND NEW.online = 1 BEGIN
	UPDATE org_device_counts SET n_online_direct = n_online_direct - 1 WHERE org_id = OLD.org_id;
	UPDATE org_device_counts SET n_online_subtree = n_online_subtree - 1
	WHERE org_id IN (SELECT ancestor FROM org_closure WHERE descendant = OLD.org_id);
	UPDATE org_device_counts SET n_online_direct = n_online_direct + 1 WHERE org_id = NEW.org_id;
	UPDATE org_device_counts SET n_online_subtree = n_online_subtree + 1
	WHERE org_id IN (SELECT ancestor FROM org_closure WHERE descendant = NEW.org_id);
END;
UPDATE org_device_counts SET
	n_online_direct = (SELECT count(*) FROM devices d WHERE d.org_id = org_device_counts.org_id AND d.online = 1),
	n_online_subtree = (SELECT count(*) FROM org_closure c JOIN devices d ON d.org_id = c.descendant
		WHERE c.ancestor = org_device_counts.org_id AND d.online = 1);

-- Devices per template below each org (the org included), kept like
-- org_device_counts: a template filter's total over a subtree is one row
-- read. MoveOrg shifts the moved subtree's counts.
CREATE TABLE org_template_counts (
	org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	template_id TEXT    NOT NULL,
	n_subtree   INTEGER NOT NULL,
	PRIMARY KEY (org_id, template_id)
) WITHOUT ROWID;
CREATE TRIGGER devices_template_count_insert AFTER INSERT ON devices BEGIN
	INSERT INTO org_template_counts (org_id, template_id, n_subtree)
	SELECT ancestor, NEW.template_id, 1 FROM org_closure WHERE descendant = NEW.org_id
	ON CONFLICT (org_id, template_id) DO UPDATE SET n_subtree = n_subtree + 1;
END;
CREATE TRIGGER devices_template_count_delete AFTER DELETE ON devices BEGIN
	UPDATE org_template_counts SET n_subtree = n_subtree - 1
	WHERE template_id = OLD.template_id AND org_id IN (SELECT ancestor FROM org_closure WHERE descendant = OLD.org_id);
END;
CREATE TRIGGER devices_template_count_move AFTER UPDATE OF org_id, template_id ON devices
WHEN OLD.org_id <> NEW.org_id OR OLD.template_id <> NEW.template_id BEGIN
	UPDATE org_template_counts SET n_subtree = n_subtree - 1
	WHERE template_id = OLD.template_id AND org_id IN (SELECT ancestor FROM org_closure WHERE descendant = OLD.org_id);
	INSERT INTO org_template_counts (org_id, template_id, n_subtree)
	SELECT ancestor, NEW.template_id, 1 FROM org_closure WHERE descendant = NEW.org_id
	ON CONFLICT (org_id, template_id) DO UPDATE SET n_subtree = n_subtree + 1;
END;
INSERT INTO org_template_counts (org_id, template_id, n_subtree)
SELECT c.ancestor, d.template_id, count(*) FROM org_closure c JOIN devices d ON d.org_id = c.descendant
GROUP BY c.ancestor, d.template_id;

-- Search: a trigram index of device names answers "name contains" (three
-- characters or more) without reading every name.
CREATE VIRTUAL TABLE devices_fts USING fts5(name, content='devices', content_rowid='id', tokenize='trigram');
CREATE TRIGGER devices_fts_insert AFTER INSERT ON devices BEGIN
	INSERT INTO devices_fts (rowid, name) VALUES (NEW.id, NEW.name);
END;
CREATE TRIGGER devices_fts_delete AFTER DELETE ON devices BEGIN
	INSERT INTO devices_fts (devices_fts, rowid, name) VALUES ('delete', OLD.id, OLD.name);
END;
CREATE TRIGGER devices_fts_rename AFTER UPDATE OF name ON devices WHEN OLD.name IS NOT NEW.name BEGIN
	INSERT INTO devices_fts (devices_fts, rowid, name) VALUES ('delete', OLD.id, OLD.name);
	INSERT INTO devices_fts (rowid, name) VALUES (NEW.id, NEW.name);
END;
INSERT INTO devices_fts (devices_fts) VALUES ('rebuild');

-- A device's actions log: its audit entries without reading the org's.
CREATE INDEX audit_object ON audit(object_type, object_id, id);

-- The timeline filtered by kind (events, online/offline) reads only
-- that kind.
CREATE INDEX device_events_kind ON device_events(device_uid, kind, id);

-- History aggregation: num is the value as a number (NULL when it is not
-- one; Apply parses it), and the index serves range scans per pin in time
-- order, covering the aggregate.
ALTER TABLE device_history ADD COLUMN num REAL;
UPDATE device_history SET num = CAST(value AS REAL)
WHERE value GLOB '*[0-9]*' AND value NOT GLOB '*[^0-9.eE+-]*';
CREATE INDEX device_history_ts ON device_history(device_uid, pin, ts, num);

-- Per-minute and per-hour rollups of numeric history, kept by Apply: a
-- day's chart reads 1,440 minute rows, a 30-day chart 720 hour rows,
-- instead of 86,400 or 2.6 million points. last is the value with the
-- newest ts in the minute or hour (step charts).
CREATE TABLE history_minutes (
	device_uid TEXT    NOT NULL,
	pin        INTEGER NOT NULL,
	minute     INTEGER NOT NULL, -- ms since epoch, a multiple of 60,000
	n          INTEGER NOT NULL,
	sum        REAL    NOT NULL,
	min        REAL    NOT NULL,
	max        REAL    NOT NULL,
	last_ts    INTEGER NOT NULL,
	last       REAL    NOT NULL,
	PRIMARY KEY (device_uid, pin, minute)
) WITHOUT ROWID;
INSERT INTO history_minutes (device_uid, pin, minute, n, sum, min, max, last_ts, last)
SELECT device_uid, pin, ts - ts % 60000, count(*), sum(num), min(num), max(num), max(ts), 0
FROM device_history WHERE num IS NOT NULL GROUP BY device_uid, pin, ts - ts % 60000;
UPDATE history_minutes SET last = (SELECT h.num FROM device_history h INDEXED BY device_history_ts WHERE h.device_uid = history_minutes.device_uid
	AND h.pin = history_minutes.pin AND h.ts = history_minutes.last_ts AND h.num IS NOT NULL ORDER BY h.id DESC LIMIT 1);
CREATE TABLE history_hours (
	device_uid TEXT    NOT NULL,
	pin        INTEGER NOT NULL,
	hour       INTEGER NOT NULL, -- ms since epoch, a multiple of 3,600,000
	n          INTEGER NOT NULL,
	sum        REAL    NOT NULL,
	min        REAL    NOT NULL,
	max        REAL    NOT NULL,
	last_ts    INTEGER NOT NULL,
	last       REAL    NOT NULL,
	PRIMARY KEY (device_uid, pin, hour)
) WITHOUT ROWID;
INSERT INTO history_hours (device_uid, pin, hour, n, sum, min, max, last_ts, last)
SELECT device_uid, pin, minute - minute % 3600000, sum(n), sum(sum), min(min), max(max), max(last_ts), 0
FROM history_minutes GROUP BY device_uid, pin, minute - minute % 3600000;
UPDATE history_hours SET last = (SELECT m.last FROM history_minutes m WHERE m.device_uid = history_hours.device_uid
	AND m.pin = history_hours.pin AND m.minute = history_hours.last_ts - history_hours.last_ts % 60000);
