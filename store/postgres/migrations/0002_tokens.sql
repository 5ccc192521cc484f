-- Client secret rotation and client_secret_jwt: the encrypted secret, and the
-- secret a rotation replaced, which keeps working until prev_secret_expires_at.
-- NULL means "not set".
ALTER TABLE clients
	ADD COLUMN secret_ciphertext      bytea,
	ADD COLUMN prev_secret_hash       bytea,
	ADD COLUMN prev_secret_ciphertext bytea,
	ADD COLUMN prev_secret_expires_at timestamptz;

-- Access tokens issued at the token endpoint, by keyed hash. They belong to
-- their client: the foreign key cascades, and DeleteClient also deletes them
-- in its transaction. Creating a token locks the client row (FOR KEY SHARE),
-- so that a token is never created for a client being deleted.
CREATE TABLE access_tokens (
	hash       bytea            NOT NULL PRIMARY KEY,
	client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	scope      text             NOT NULL,
	issued_at  timestamptz      NOT NULL,
	expires_at timestamptz      NOT NULL
);
CREATE INDEX access_tokens_client_id ON access_tokens (client_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

-- The JWT IDs of client assertions already used (RFC 7523 section 3), until
-- the assertions expire. jti is bytea, compared byte for byte, since a JWT ID
-- may hold characters (NUL) that text cannot. No foreign key: recording a jti
-- does not check the client, and DeleteClient deletes the client's rows in its
-- transaction.
CREATE TABLE assertion_ids (
	client_id  text COLLATE "C" NOT NULL,
	jti        bytea            NOT NULL,
	expires_at timestamptz      NOT NULL,
	PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_ids_expires_at ON assertion_ids (expires_at);
