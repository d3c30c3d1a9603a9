-- 0007: the installer's history chart reads the value writes through an
-- index on (ts, device, pin) instead of (device, pin, ts). Every group
-- commit inserts one entry per value write into the index: ordered by
-- device first, those entries land on a different leaf page per device,
-- so a commit of N devices' writes dirtied about N 16 KiB pages (each
-- written whole to the WAL) and the commit cost 2.6 times as much CPU per
-- record (17.8 against 6.6 µs with 300,000 entries of history, growing
-- with the history). Ordered by time, the entries of live writes append
-- at the index's end: one or two pages per commit. A chart reads the
-- index entries of its time range and filters device and pin inside the
-- index, fetching only the matching rows. Options.PinHistoryIndex still
-- adds the (device, pin, ts) index for deployments that read long ranges
-- of many devices and can pay for it.
DROP INDEX IF EXISTS outbox_history;
CREATE INDEX outbox_history_ts ON outbox(ts, device, pin) WHERE kind = 1;
