-- Each tag's count of devices, kept by triggers: the device list filtered
-- by all of several tags reads the rarest tag's index entries and probes
-- the others', so it must know which tag is rarest without counting.
ALTER TABLE tags ADD COLUMN n_devices INTEGER NOT NULL DEFAULT 0;
UPDATE tags SET n_devices = (SELECT count(*) FROM device_tags WHERE tag_id = tags.id);
CREATE TRIGGER device_tags_count_insert AFTER INSERT ON device_tags BEGIN
  UPDATE tags SET n_devices = n_devices + 1 WHERE id = NEW.tag_id;
END;
CREATE TRIGGER device_tags_count_delete AFTER DELETE ON device_tags BEGIN
  UPDATE tags SET n_devices = n_devices - 1 WHERE id = OLD.tag_id;
END;
