-- The users page's search (issue 14): "name or email contains" (ILIKE
-- '%…%', three characters or more) reads the trigram indexes (a bitmap
-- OR of the two) instead of every user, as devices_name_trgm does for
-- device names.
CREATE INDEX users_name_trgm  ON users USING gin (name gin_trgm_ops);
CREATE INDEX users_email_trgm ON users USING gin (email gin_trgm_ops);
