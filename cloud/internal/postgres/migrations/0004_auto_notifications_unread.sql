-- The console's bell counts a person's unread notifications on every
-- page: a partial index holds only the unread rows, so the count reads
-- them alone however many read ones a person has.
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE read_at = 0;
