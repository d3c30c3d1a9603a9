-- Telemetry apply throughput (issue 16): every history row took two
-- btree insertions, one into the time index (device_key, pin, ts, id),
-- which every read uses, and one into the primary key (id, ts), which
-- only the history page cursor (to find the ts of the point a page
-- continues below) and the retention delete used. Btree insertion was
-- the largest part of the apply's server CPU (perf); without the primary
-- key the server spends 15-20 % less per point
-- (BenchmarkApplyFourGateways; a hash index on id instead cost more than
-- the btree). A BRIN index on id serves the cursor: ids are handed out in
-- blocks in apply order, so each range of 32 heap pages holds a narrow
-- band of ids, and a lookup reads the few ranges whose band holds the id.
-- Ranges not summarized yet are read whole, so the store summarizes new
-- ranges every few seconds (SummarizeHistoryIDs). Ids stay unique by
-- their sequence (device_history_id_seq), which is all that gave them
-- out before too. On a large history the CREATE INDEX reads every row
-- once (a BRIN build is a sequential scan), holding applies meanwhile:
-- gateways resend what waited.
ALTER TABLE device_history DROP CONSTRAINT device_history_pkey;
CREATE INDEX device_history_id ON device_history USING brin (id) WITH (pages_per_range = 32);
