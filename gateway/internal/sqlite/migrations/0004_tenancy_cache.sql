-- 0004: the parts of the cloud's tenancy the hub does not hold (orgs,
-- owners, static tokens), one JSON document per kind, with the tenancy
-- version it was written at, so a gateway restarted offline still has them.
CREATE TABLE tenancy_cache (
	kind    TEXT PRIMARY KEY,
	version INTEGER NOT NULL,
	body    BLOB NOT NULL
);
