-- The authorization server: pending authorization requests, authorization
-- codes, grants with their refresh tokens, and remembered consent; and the
-- grant, subject and audience of access tokens. Times are Unix microseconds
-- in UTC; NULL means "not set". Lists (resources, refresh token hashes) are
-- encoded by the store (encodeList): NULL for none, a blob otherwise. Every
-- record belongs to its client: the foreign keys cascade when DeleteClient
-- deletes it (the store's connections set foreign_keys=ON). (Version 0005
-- is another change's.)

CREATE TABLE pending_authorizations (
	hash                  BLOB    NOT NULL PRIMARY KEY,
	browser_hash          BLOB,
	client_id             TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	redirect_uri          TEXT    NOT NULL,
	redirect_uri_given    INTEGER NOT NULL,
	scope                 TEXT    NOT NULL,
	resources             BLOB,
	state                 TEXT    NOT NULL,
	code_challenge        TEXT    NOT NULL,
	code_challenge_method TEXT    NOT NULL,
	created_at            INTEGER NOT NULL,
	expires_at            INTEGER NOT NULL
) STRICT;
CREATE INDEX pending_authorizations_client_id ON pending_authorizations (client_id);
CREATE INDEX pending_authorizations_expires_at ON pending_authorizations (expires_at);

CREATE TABLE authorization_codes (
	hash                  BLOB    NOT NULL PRIMARY KEY,
	grant_id              TEXT    NOT NULL,
	client_id             TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	redirect_uri          TEXT    NOT NULL,
	redirect_uri_given    INTEGER NOT NULL,
	code_challenge        TEXT    NOT NULL,
	code_challenge_method TEXT    NOT NULL,
	subject               TEXT    NOT NULL,
	scope                 TEXT    NOT NULL,
	resources             BLOB,
	claims                BLOB,
	issued_at             INTEGER NOT NULL,
	expires_at            INTEGER NOT NULL,
	used_at               INTEGER
) STRICT;
CREATE INDEX authorization_codes_client_id ON authorization_codes (client_id);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

-- A grant's refresh token hashes are kept in the row, in their order, and
-- indexed in refresh_tokens, one row per hash (the primary key: a hash
-- belongs to one grant at most), for GetGrantByRefreshHash.
CREATE TABLE grants (
	id                      TEXT    NOT NULL PRIMARY KEY,
	client_id               TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	subject                 TEXT    NOT NULL,
	scope                   TEXT    NOT NULL,
	resources               BLOB,
	claims                  BLOB,
	created_at              INTEGER NOT NULL,
	updated_at              INTEGER NOT NULL,
	expires_at              INTEGER,
	idle_expires_at         INTEGER,
	revision                INTEGER NOT NULL,
	refresh_hashes          BLOB,
	prev_refresh_hash       BLOB,
	prev_refresh_expires_at INTEGER,
	retired_refresh_hashes  BLOB
) STRICT;
CREATE INDEX grants_client_id ON grants (client_id);
CREATE INDEX grants_expires_at ON grants (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX grants_idle_expires_at ON grants (idle_expires_at) WHERE idle_expires_at IS NOT NULL;

CREATE TABLE refresh_tokens (
	hash     BLOB NOT NULL PRIMARY KEY,
	grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);

CREATE TABLE consents (
	client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	subject    TEXT    NOT NULL,
	scope      TEXT    NOT NULL,
	resources  BLOB,
	granted_at INTEGER NOT NULL,
	expires_at INTEGER,
	PRIMARY KEY (client_id, subject)
) STRICT, WITHOUT ROWID;
CREATE INDEX consents_expires_at ON consents (expires_at) WHERE expires_at IS NOT NULL;

-- The grant an access token was issued from (NULL for client_credentials):
-- deleting the grant deletes its tokens. Most tokens have none, so the index
-- leaves them out; every query on the column compares it with =.
ALTER TABLE access_tokens ADD COLUMN grant_id TEXT REFERENCES grants (id) ON DELETE CASCADE;
ALTER TABLE access_tokens ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN resources BLOB;
CREATE INDEX access_tokens_grant_id ON access_tokens (grant_id) WHERE grant_id IS NOT NULL;
