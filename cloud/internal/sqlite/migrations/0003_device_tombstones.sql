-- Merge-up (issue 6): UIDs of deleted devices, so that a gateway that
-- announces a device the cloud deleted does not bring it back. A trigger
-- catches every way a device row goes (API delete, static token deletion,
-- cascades).
CREATE TABLE deleted_device_uids (
	uid        TEXT    PRIMARY KEY,
	deleted_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER devices_tombstone AFTER DELETE ON devices WHEN OLD.uid IS NOT NULL BEGIN
	INSERT OR IGNORE INTO deleted_device_uids(uid, deleted_at)
	VALUES (OLD.uid, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
