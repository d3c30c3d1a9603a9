-- 0003: the UID of every device ever created here, kept after the device
-- is deleted: outbox entries of a deleted device still name it to the
-- cloud by UID (the id → UID map is a few dozen bytes per device).
CREATE TABLE device_uids (
	id  INTEGER PRIMARY KEY,
	uid TEXT NOT NULL
);
INSERT INTO device_uids(id, uid) SELECT id, uid FROM devices;
