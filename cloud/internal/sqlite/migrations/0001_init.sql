-- Organizations and their tree. The closure table holds one row per
-- (ancestor, descendant) pair including (x, x) at depth 0, so "everything
-- below X" is one indexed range on (ancestor).
CREATE TABLE orgs (
	id             INTEGER PRIMARY KEY,
	parent_id      INTEGER REFERENCES orgs(id),
	root_id        INTEGER NOT NULL,
	depth          INTEGER NOT NULL,
	name           TEXT    NOT NULL,
	description    TEXT    NOT NULL DEFAULT '',
	type           TEXT    NOT NULL,
	special        TEXT    NOT NULL DEFAULT '',
	can_create_sub INTEGER NOT NULL DEFAULT 0,
	tz             TEXT    NOT NULL DEFAULT '',
	phone          TEXT    NOT NULL DEFAULT '',
	unit_system    TEXT    NOT NULL DEFAULT '',
	address        TEXT    NOT NULL DEFAULT '{}',
	active         INTEGER NOT NULL DEFAULT 1,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX orgs_sibling_name ON orgs(coalesce(parent_id, 0), name COLLATE NOCASE);
CREATE INDEX orgs_parent ON orgs(parent_id, id);

CREATE TABLE org_closure (
	ancestor   INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	descendant INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	depth      INTEGER NOT NULL,
	PRIMARY KEY (ancestor, descendant)
) WITHOUT ROWID;
CREATE INDEX org_closure_descendant ON org_closure(descendant, ancestor);

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	org_id        INTEGER NOT NULL REFERENCES orgs(id),
	role_id       INTEGER NOT NULL,
	email         TEXT    NOT NULL UNIQUE,
	name          TEXT    NOT NULL DEFAULT '',
	title         TEXT    NOT NULL DEFAULT '',
	nick          TEXT    NOT NULL DEFAULT '',
	phone         TEXT    NOT NULL DEFAULT '',
	tz            TEXT    NOT NULL DEFAULT '',
	locale        TEXT    NOT NULL DEFAULT '',
	type          TEXT    NOT NULL,
	status        TEXT    NOT NULL,
	is_dev        INTEGER NOT NULL DEFAULT 0,
	password_hash TEXT    NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	last_login_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX users_org ON users(org_id, id);

-- Role structure is per tree, permissions per org (bit set, see
-- tenancy.PermSet.Bits).
CREATE TABLE roles (
	root_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	id      INTEGER NOT NULL,
	name    TEXT    NOT NULL,
	builtin INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (root_id, id)
) WITHOUT ROWID;

CREATE TABLE role_perms (
	org_id  INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	role_id INTEGER NOT NULL,
	bits    INTEGER NOT NULL,
	PRIMARY KEY (org_id, role_id)
) WITHOUT ROWID;

CREATE TABLE templates (
	id              TEXT    PRIMARY KEY,
	root_id         INTEGER NOT NULL REFERENCES orgs(id),
	def             TEXT    NOT NULL,
	description     TEXT    NOT NULL DEFAULT '',
	board_type      TEXT    NOT NULL DEFAULT '',
	connection_type TEXT    NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
CREATE INDEX templates_root ON templates(root_id, id);

CREATE TABLE template_orgs (
	org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	template_id TEXT    NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
	PRIMARY KEY (org_id, template_id)
) WITHOUT ROWID;

CREATE TABLE static_tokens (
	id             INTEGER PRIMARY KEY,
	qr             TEXT    NOT NULL UNIQUE,
	org_id         INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	template_id    TEXT    NOT NULL REFERENCES templates(id),
	device_id      INTEGER NOT NULL DEFAULT 0,
	status         TEXT    NOT NULL,
	owner_id       INTEGER NOT NULL DEFAULT 0,
	claimed_org_id INTEGER NOT NULL DEFAULT 0,
	created_at     INTEGER NOT NULL,
	claimed_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX static_tokens_org ON static_tokens(org_id, id);

CREATE TABLE devices (
	id              INTEGER PRIMARY KEY,
	org_id          INTEGER NOT NULL REFERENCES orgs(id),
	owner_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
	template_id     TEXT    NOT NULL REFERENCES templates(id),
	name            TEXT    NOT NULL,
	token_hash      BLOB    NOT NULL UNIQUE,
	token           TEXT    NOT NULL DEFAULT '',
	static_token_id INTEGER REFERENCES static_tokens(id) ON DELETE SET NULL,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	activated_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX devices_org ON devices(org_id, id);
CREATE INDEX devices_owner ON devices(owner_id, id) WHERE owner_id IS NOT NULL;
CREATE INDEX devices_template ON devices(template_id);

-- Device counts per org, kept by triggers: n_direct counts the org's own
-- devices, n_subtree those of the org and everything below it. A scope's
-- total is then one primary-key read instead of a count over devices, and
-- it tells ListDevices which plan fits. CreateOrg inserts the row; MoveOrg
-- shifts n_subtree between old and new ancestors.
CREATE TABLE org_device_counts (
	org_id    INTEGER PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
	n_direct  INTEGER NOT NULL DEFAULT 0,
	n_subtree INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER devices_count_insert AFTER INSERT ON devices BEGIN
	UPDATE org_device_counts SET n_direct = n_direct + 1 WHERE org_id = NEW.org_id;
	UPDATE org_device_counts SET n_subtree = n_subtree + 1
	WHERE org_id IN (SELECT ancestor FROM org_closure WHERE descendant = NEW.org_id);
END;
CREATE TRIGGER devices_count_delete AFTER DELETE ON devices BEGIN
	UPDATE org_device_counts SET n_direct = n_direct - 1 WHERE org_id = OLD.org_id;
	UPDATE org_device_counts SET n_subtree = n_subtree - 1
	WHERE org_id IN (SELECT ancestor FROM org_closure WHERE descendant = OLD.org_id);
END;
CREATE TRIGGER devices_count_move AFTER UPDATE OF org_id ON devices WHEN OLD.org_id <> NEW.org_id BEGIN
	UPDATE org_device_counts SET n_direct = n_direct - 1 WHERE org_id = OLD.org_id;
	UPDATE org_device_counts SET n_subtree = n_subtree - 1
	WHERE org_id IN (SELECT ancestor FROM org_closure WHERE descendant = OLD.org_id);
	UPDATE org_device_counts SET n_direct = n_direct + 1 WHERE org_id = NEW.org_id;
	UPDATE org_device_counts SET n_subtree = n_subtree + 1
	WHERE org_id IN (SELECT ancestor FROM org_closure WHERE descendant = NEW.org_id);
END;

CREATE TABLE locations (
	id         INTEGER PRIMARY KEY,
	org_id     INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	owner_id   INTEGER NOT NULL DEFAULT 0,
	name       TEXT    NOT NULL,
	address    TEXT    NOT NULL DEFAULT '{}',
	lat        REAL    NOT NULL DEFAULT 0,
	lon        REAL    NOT NULL DEFAULT 0,
	users      TEXT    NOT NULL DEFAULT '[]',
	created_at INTEGER NOT NULL
);
CREATE INDEX locations_org ON locations(org_id, id);

CREATE TABLE tags (
	id       INTEGER PRIMARY KEY,
	org_id   INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	name     TEXT    NOT NULL,
	owner_id INTEGER NOT NULL DEFAULT 0,
	UNIQUE (org_id, name)
);
CREATE TABLE device_tags (
	device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
	tag_id    INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
	PRIMARY KEY (device_id, tag_id)
) WITHOUT ROWID;

CREATE TABLE invitations (
	id         INTEGER PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	org_id     INTEGER NOT NULL,
	by_org_id  INTEGER NOT NULL,
	by_user_id INTEGER NOT NULL DEFAULT 0,
	token_hash BLOB    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX invitations_by_org ON invitations(by_org_id, created_at);

CREATE TABLE password_resets (
	token_hash BLOB    PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
	id          INTEGER PRIMARY KEY,
	token_hash  BLOB    NOT NULL UNIQUE,
	user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	revoked_at  INTEGER NOT NULL DEFAULT 0,
	remote_addr TEXT    NOT NULL DEFAULT '',
	user_agent  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE oauth_clients (
	id            TEXT    PRIMARY KEY,
	org_id        INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	name          TEXT    NOT NULL,
	secret_hash   BLOB    NOT NULL,
	redirect_urls TEXT    NOT NULL DEFAULT '[]',
	created_by    INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
);
CREATE INDEX oauth_clients_org ON oauth_clients(org_id);

CREATE TABLE access_tokens (
	token_hash BLOB    PRIMARY KEY,
	client_id  TEXT    NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
	org_id     INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_client ON access_tokens(client_id);

CREATE TABLE refresh_tokens (
	token_hash BLOB    PRIMARY KEY,
	client_id  TEXT    NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_client ON refresh_tokens(client_id);

CREATE TABLE gateways (
	id         INTEGER PRIMARY KEY,
	org_id     INTEGER REFERENCES orgs(id),
	name       TEXT    NOT NULL,
	claim_hash BLOB    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	claimed_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX gateways_org ON gateways(org_id, id);

-- The audit log outlives what it describes: no foreign keys.
CREATE TABLE audit (
	id          INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,
	org_id      INTEGER NOT NULL,
	user_id     INTEGER NOT NULL DEFAULT 0,
	client_id   TEXT    NOT NULL DEFAULT '',
	action      TEXT    NOT NULL,
	object_type TEXT    NOT NULL,
	object_id   TEXT    NOT NULL,
	before      TEXT,
	after       TEXT
);
CREATE INDEX audit_org ON audit(org_id, id);
