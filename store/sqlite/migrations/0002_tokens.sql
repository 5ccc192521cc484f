-- Client secret rotation and client_secret_jwt: the encrypted secret, and the
-- secret a rotation replaced, which keeps working until prev_secret_expires_at.
-- Times are Unix microseconds in UTC; NULL means "not set".
ALTER TABLE clients ADD COLUMN secret_ciphertext BLOB;
ALTER TABLE clients ADD COLUMN prev_secret_hash BLOB;
ALTER TABLE clients ADD COLUMN prev_secret_ciphertext BLOB;
ALTER TABLE clients ADD COLUMN prev_secret_expires_at INTEGER;

-- Access tokens issued at the token endpoint, by keyed hash. They belong to
-- their client: DeleteClient deletes them in its transaction, and the foreign
-- key cascades as well (the store's connections set foreign_keys=ON).
CREATE TABLE access_tokens (
	hash       BLOB    NOT NULL PRIMARY KEY,
	client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	scope      TEXT    NOT NULL,
	issued_at  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX access_tokens_client_id ON access_tokens (client_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

-- The JWT IDs of client assertions already used (RFC 7523 section 3), until
-- the assertions expire. No foreign key: recording a jti does not check the
-- client, and DeleteClient deletes the client's rows in its transaction.
CREATE TABLE assertion_ids (
	client_id  TEXT    NOT NULL,
	jti        TEXT    NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (client_id, jti)
) STRICT, WITHOUT ROWID;
CREATE INDEX assertion_ids_expires_at ON assertion_ids (expires_at);
