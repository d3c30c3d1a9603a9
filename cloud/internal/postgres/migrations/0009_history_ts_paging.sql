-- Telemetry apply throughput (issue 16): every history row written costs
-- one btree insertion per index, and device_history had three (the
-- primary key, (device_uid, pin, id) and (device_uid, pin, ts)). History
-- now pages newest first by (ts, id), as the export and the charts read,
-- so one index serves all three and device_history_pin goes. The time
-- index gains id as its last key: pages and export ties are in id order
-- without a sort.
DROP INDEX device_history_pin;
DROP INDEX device_history_ts;
CREATE INDEX device_history_ts ON device_history (device_uid, pin, ts, id) INCLUDE (num);
