-- 0005: raw history is the value writes of the outbox, kept after the
-- cloud acknowledges them, instead of a second copy of every write in a
-- history table. A commit then writes each record once (the copy was a
-- quarter of the commit's CPU), and Options.HistoryMax bounds what is kept.
--
-- The cursor 'outbox_acked' splits the table: entries above it wait for
-- the cloud; at or below it, only value writes remain (the history).
-- Everything the old outbox held was unacknowledged (acks deleted).
INSERT INTO sync_cursors(name, value) VALUES ('outbox_acked', COALESCE(
	(SELECT MIN(seq) FROM outbox) - 1,
	(SELECT seq FROM sqlite_sequence WHERE name = 'outbox'),
	0))
ON CONFLICT(name) DO UPDATE SET value = excluded.value;

-- Every value write still in the outbox also has its history row: drop
-- those rows so the write is not there twice. (Two writes of the same pin
-- with the same value and millisecond are indistinguishable; at worst one
-- such twin goes.)
CREATE INDEX history_migrate ON history(device, pin, ts);
DELETE FROM history WHERE rowid IN (
	SELECT h.rowid FROM outbox o JOIN history h
		ON h.device = o.device AND h.pin = o.pin AND h.ts = o.ts AND h.value IS o.value
	WHERE o.kind = 1);

-- The rest is acknowledged history: it goes below the cursor, in its
-- order, with sequence numbers no acknowledged entry uses any more (they
-- may be negative; AUTOINCREMENT only ever counts up from the largest).
INSERT INTO outbox(seq, kind, device, pin, name, value, ts, source)
	SELECT (SELECT value FROM sync_cursors WHERE name = 'outbox_acked')
			- (SELECT MAX(rowid) FROM history) + rowid,
		1, device, pin, '', value, ts, ''
	FROM history ORDER BY rowid;

DROP TABLE history;

-- Ad-hoc queries (sqlite3 on the installer's laptop) still find history.
CREATE VIEW history AS SELECT seq, device, pin, ts, value FROM outbox WHERE kind = 1;
