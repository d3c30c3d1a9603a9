-- Events the cloud records and resolves (issue 17): who or what logged
-- an event (a device's transport, or "automation:<id>" for an event a
-- cloud automation logged), and its resolution — when, by whom ("device"
-- for a device's resolveEvent, "user:<id>" for a person in the console or
-- the API) and the person's comment. resolved_at 0 is an open event.
ALTER TABLE device_events ADD COLUMN source text NOT NULL DEFAULT '';
ALTER TABLE device_events ADD COLUMN resolved_at bigint NOT NULL DEFAULT 0;
ALTER TABLE device_events ADD COLUMN resolved_by text NOT NULL DEFAULT '';
ALTER TABLE device_events ADD COLUMN resolve_comment text NOT NULL DEFAULT '';
-- A device's events of one code, newest last: the open ones of a code, the
-- latest one a device's clear resolves.
CREATE INDEX device_events_code ON device_events (device_uid, code, id);
-- Events stored before this migration: one followed by a clear of its code
-- is resolved then (a clear of one event among several open ones of a code
-- resolves them all here; the console's replay was exact, this is close).
UPDATE device_events e SET resolved_by = 'device', resolved_at = c.ts
FROM (SELECT e2.id, min(c2.ts) AS ts FROM device_events e2 JOIN device_events c2
	ON c2.device_uid = e2.device_uid AND c2.code = e2.code AND c2.kind = 'clear' AND c2.id > e2.id
	WHERE e2.kind = 'event' GROUP BY e2.id) c
WHERE e.id = c.id;
-- A notification about a device's event names it (device id, event code
-- and time), so the notifications page offers to resolve it while open.
ALTER TABLE notifications ADD COLUMN device_id bigint NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN event_code text NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN event_ts bigint NOT NULL DEFAULT 0;
