-- 0008: the latest table is brought up to date lazily, at most a second
-- after a write (sqlite/latest.go); the cursor 'latest_applied' says up
-- to which outbox sequence number it holds every value write and erase.
-- Until now every commit wrote it: it holds everything.
INSERT INTO sync_cursors(name, value) VALUES ('latest_applied',
	COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0))
ON CONFLICT(name) DO UPDATE SET value = excluded.value;
