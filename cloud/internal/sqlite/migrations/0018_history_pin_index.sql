-- device_history_pin (device_uid, pin, id) is read by nothing since
-- History pages through device_history_ts (device_uid, pin, ts, num) by
-- (ts, id), and the retention delete walks that index by ts. Every
-- applied point paid an insertion into it.
DROP INDEX IF EXISTS device_history_pin;
