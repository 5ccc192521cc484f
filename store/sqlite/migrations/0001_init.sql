-- Clients: one row per registered client. Times are Unix microseconds in
-- UTC; NULL means "not set". metadata is the JSON encoding of
-- clientreg.Metadata, kept byte for byte.
CREATE TABLE clients (
	id                    TEXT    NOT NULL PRIMARY KEY,
	issued_at             INTEGER NOT NULL,
	updated_at            INTEGER NOT NULL,
	revision              INTEGER NOT NULL,
	metadata              BLOB    NOT NULL,
	secret_hash           BLOB,
	secret_expires_at     INTEGER,
	token_hash            BLOB    NOT NULL,
	prev_token_hash       BLOB,
	prev_token_expires_at INTEGER
) STRICT;

-- A token hash is unique within each column; uniqueness across the two
-- columns is checked by the store inside its write transactions. SQLite
-- allows any number of NULLs in a UNIQUE index.
CREATE UNIQUE INDEX clients_token_hash ON clients (token_hash);
CREATE UNIQUE INDEX clients_prev_token_hash ON clients (prev_token_hash);

-- Initial access tokens (RFC 7591 section 3), by keyed hash.
CREATE TABLE initial_tokens (
	hash       BLOB    NOT NULL PRIMARY KEY,
	created_at INTEGER NOT NULL,
	expires_at INTEGER,
	max_uses   INTEGER NOT NULL,
	uses       INTEGER NOT NULL
) STRICT;
