-- Events the cloud records and resolves (issue 17): who or what logged
-- an event (a device's transport, or "automation:<id>" for an event a
-- cloud automation logged), and its resolution — when, by whom ("device"
-- for a device's resolveEvent, "user:<id>" for a person in the console or
-- the API) and the person's comment. resolved_at 0 is an open event.
ALTER TABLE device_events ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE device_events ADD COLUMN resolved_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device_events ADD COLUMN resolved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE device_events ADD COLUMN resolve_comment TEXT NOT NULL DEFAULT '';
-- A device's events of one code, newest last: the open ones of a code, the
-- latest one a device's clear resolves.
CREATE INDEX device_events_code ON device_events(device_uid, code, id);
-- Events stored before this migration: one followed by a clear of its code
-- is resolved then (a clear of one event among several open ones of a code
-- resolves them all here; the console's replay was exact, this is close).
UPDATE device_events SET resolved_by = 'device', resolved_at = (SELECT min(c.ts) FROM device_events c
	WHERE c.device_uid = device_events.device_uid AND c.code = device_events.code AND c.kind = 'clear' AND c.id > device_events.id)
WHERE kind = 'event' AND EXISTS (SELECT 1 FROM device_events c
	WHERE c.device_uid = device_events.device_uid AND c.code = device_events.code AND c.kind = 'clear' AND c.id > device_events.id);
-- A notification about a device's event names it (device id, event code
-- and time), so the notifications page offers to resolve it while open.
ALTER TABLE notifications ADD COLUMN device_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN event_code TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN event_ts INTEGER NOT NULL DEFAULT 0;
