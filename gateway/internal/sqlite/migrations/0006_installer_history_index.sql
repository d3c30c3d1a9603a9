-- The installer page charts a datastream's local history: aggregation by
-- device, pin and time reads the value writes of the outbox through this
-- index instead of scanning every record.
CREATE INDEX outbox_history ON outbox(device, pin, ts) WHERE kind = 1;
