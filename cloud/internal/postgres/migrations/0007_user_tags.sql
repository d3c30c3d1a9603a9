-- Tags label users as they label devices (TENANCY.md §6: at most 5 a
-- user). The index on (tag_id, user_id) answers the users page's tag
-- filter; deleting a user or a tag drops its rows. Re-runnable, like
-- every migration a test replays from an older schema version.
CREATE TABLE IF NOT EXISTS user_tags (
	user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	tag_id  bigint NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
	PRIMARY KEY (user_id, tag_id)
);
CREATE INDEX IF NOT EXISTS user_tags_tag ON user_tags (tag_id, user_id);
