-- 0002: durable named cursors of the cloud sync (e.g. the last tenancy
-- version applied).
CREATE TABLE sync_cursors (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
