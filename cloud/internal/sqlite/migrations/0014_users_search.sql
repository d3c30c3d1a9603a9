-- The users page's search (issue 14): a trigram index of user names and
-- emails answers "name or email contains" (three characters or more)
-- without reading every user, as devices_fts does for device names. The
-- query keeps its LIKE terms: the index only narrows the candidates.
-- Re-runnable (a test replays the migrations after 0005).
CREATE VIRTUAL TABLE IF NOT EXISTS users_fts USING fts5(name, email, content='users', content_rowid='id', tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS users_fts_insert AFTER INSERT ON users BEGIN
	INSERT INTO users_fts (rowid, name, email) VALUES (NEW.id, NEW.name, NEW.email);
END;
CREATE TRIGGER IF NOT EXISTS users_fts_delete AFTER DELETE ON users BEGIN
	INSERT INTO users_fts (users_fts, rowid, name, email) VALUES ('delete', OLD.id, OLD.name, OLD.email);
END;
CREATE TRIGGER IF NOT EXISTS users_fts_update AFTER UPDATE OF name, email ON users
WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email BEGIN
	INSERT INTO users_fts (users_fts, rowid, name, email) VALUES ('delete', OLD.id, OLD.name, OLD.email);
	INSERT INTO users_fts (rowid, name, email) VALUES (NEW.id, NEW.name, NEW.email);
END;
INSERT INTO users_fts (users_fts) VALUES ('rebuild');
