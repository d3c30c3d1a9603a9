-- 0001: the gateway's local store.
--
-- No foreign keys from the data tables to devices: a record queued for a
-- device that is deleted meanwhile must not fail a whole group-committed
-- batch. Device ids are AUTOINCREMENT (never reused), DeleteDevice removes a
-- device's rows, and Load ignores rows of unknown devices.

CREATE TABLE templates (
	id         TEXT PRIMARY KEY,
	definition TEXT NOT NULL,       -- JSON of datastream.Template
	updated_at INTEGER NOT NULL     -- ms since epoch
) WITHOUT ROWID;

CREATE TABLE devices (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	uid         TEXT NOT NULL UNIQUE,  -- ULID
	name        TEXT NOT NULL,
	template_id TEXT NOT NULL REFERENCES templates(id),
	token_hash  BLOB NOT NULL UNIQUE,  -- SHA-256 of the token
	created_at  INTEGER NOT NULL
);

-- Latest value per pin. The hot tables declare no NOT NULL and the
-- upserted key is a unique index rather than a WITHOUT ROWID primary key:
-- a multi-row statement that cannot abort half-way needs no statement
-- journal, which in the pure-Go driver cost a quarter of the commit time.
-- The store always supplies every column.
CREATE TABLE latest (
	device INTEGER,
	pin    INTEGER,
	value  TEXT,
	ts     INTEGER
);
CREATE UNIQUE INDEX latest_key ON latest(device, pin);

-- Raw history: appended at the hot rate, so only a time index (appends at
-- its end); Options.PinHistoryIndex adds history_pin_ts(device, pin, ts).
CREATE TABLE history (
	device INTEGER,
	pin    INTEGER,
	ts     INTEGER,
	value  TEXT
);
CREATE INDEX history_ts ON history(ts);

CREATE TABLE events (
	id          INTEGER PRIMARY KEY,
	device      INTEGER NOT NULL,
	code        TEXT NOT NULL,
	description TEXT NOT NULL,
	ts          INTEGER NOT NULL,
	resolved_at INTEGER             -- NULL while open
);
CREATE INDEX events_device_code ON events(device, code);

CREATE TABLE device_info (
	device INTEGER PRIMARY KEY,
	pairs  TEXT NOT NULL,           -- NUL-joined key/value list
	ts     INTEGER NOT NULL
);

CREATE TABLE properties (
	device INTEGER NOT NULL,
	pin    INTEGER NOT NULL,
	name   TEXT NOT NULL,
	value  TEXT NOT NULL,
	ts     INTEGER NOT NULL,
	PRIMARY KEY (device, pin, name)
) WITHOUT ROWID;

CREATE TABLE meta (
	device INTEGER NOT NULL,
	name   TEXT NOT NULL,
	value  TEXT NOT NULL,
	ts     INTEGER NOT NULL,
	PRIMARY KEY (device, name)
) WITHOUT ROWID;

-- Everything the cloud has not acknowledged yet, in commit order.
-- AUTOINCREMENT: a sequence number is never reused after an ack deleted it.
CREATE TABLE outbox (
	seq    INTEGER PRIMARY KEY AUTOINCREMENT,
	kind   INTEGER,
	device INTEGER,
	pin    INTEGER,
	name   TEXT,
	value  TEXT,
	ts     INTEGER,
	source TEXT
);
