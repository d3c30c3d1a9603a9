-- Telemetry apply throughput (issue 16): Apply numbers its history rows
-- from blocks of 1,000 ids, one nextval per block (idBlock in
-- telemetry.go), instead of a nextval per row. A nextval of another
-- writer (an older instance, an import) takes a whole block too: ids stay
-- unique and growing.
ALTER SEQUENCE device_history_id_seq INCREMENT BY 1000;
