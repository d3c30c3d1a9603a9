-- 0009: the installer's chart reads per-second aggregates of each pin's
-- value writes (history_seconds) instead of an index over every write.
-- That index (0007) cost every group commit one index entry per value
-- write: 18-31 % of the QoS 1 throughput of the whole broker. The
-- committer sums the writes up in memory and writes the aggregates with
-- the latest values, in generations sealed at most a second apart, under
-- the same cursor 'latest_applied' (sqlite/latest.go, seconds.go): one
-- row per pin, second and generation, however often the pin was written
-- in it. upto is the generation's last outbox sequence number: a row
-- counts once the cursor has reached it; Aggregate adds the outbox
-- entries above the cursor itself. Here, the writes up to the cursor.
--
-- Keyed by second first, so that the rows of live writes append at the
-- table's end (as 0007 explains for the index); a chart reads the rows of
-- its range and keeps its pin's. last is the raw text of the value with
-- the greatest ts (cast when read, as the chart always did).
CREATE TABLE history_seconds (
	sec     INTEGER NOT NULL,
	device  INTEGER NOT NULL,
	pin     INTEGER NOT NULL,
	upto    INTEGER NOT NULL,
	n       INTEGER,
	total   REAL,
	lo      REAL,
	hi      REAL,
	last_ts INTEGER,
	last    TEXT,
	PRIMARY KEY (sec, device, pin, upto)
) WITHOUT ROWID;

INSERT INTO history_seconds(sec, device, pin, upto, n, total, lo, hi, last_ts, last)
	SELECT ts / 1000, device, pin, (SELECT value FROM sync_cursors WHERE name = 'latest_applied'), count(*), total(CAST(value AS REAL)),
		min(CAST(value AS REAL)), max(CAST(value AS REAL)), max(ts),
		substr(max(printf('%020d', ts) || value), 21)
	FROM outbox
	WHERE kind = 1 AND ts IS NOT NULL AND seq <= (SELECT value FROM sync_cursors WHERE name = 'latest_applied')
	GROUP BY ts / 1000, device, pin;

DROP INDEX IF EXISTS outbox_history_ts;
