-- The authorization server: pending authorization requests, authorization
-- codes, grants with their refresh tokens, and remembered consent; and the
-- grant, subject and audience of access tokens. NULL means "not set"; a NULL
-- array is a nil list, '{}' an empty one. Every record belongs to its
-- client: the foreign keys cascade when DeleteClient deletes it, and the
-- inserts lock the client row (FOR KEY SHARE), so that no record is created
-- for a client being deleted. (Version 0004 is another change's.)

CREATE TABLE pending_authorizations (
	hash                  bytea            NOT NULL PRIMARY KEY,
	browser_hash          bytea,
	client_id             text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	redirect_uri          text             NOT NULL,
	redirect_uri_given    boolean          NOT NULL,
	scope                 text             NOT NULL,
	resources             text[],
	state                 bytea            NOT NULL, -- the client's, byte for byte
	code_challenge        text             NOT NULL,
	code_challenge_method text             NOT NULL,
	created_at            timestamptz      NOT NULL,
	expires_at            timestamptz      NOT NULL
);
CREATE INDEX pending_authorizations_client_id ON pending_authorizations (client_id);
CREATE INDEX pending_authorizations_expires_at ON pending_authorizations (expires_at);

CREATE TABLE authorization_codes (
	hash                  bytea            NOT NULL PRIMARY KEY,
	grant_id              text COLLATE "C" NOT NULL,
	client_id             text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	redirect_uri          text             NOT NULL,
	redirect_uri_given    boolean          NOT NULL,
	code_challenge        text             NOT NULL,
	code_challenge_method text             NOT NULL,
	subject               text COLLATE "C" NOT NULL,
	scope                 text             NOT NULL,
	resources             text[],
	claims                bytea,
	issued_at             timestamptz      NOT NULL,
	expires_at            timestamptz      NOT NULL,
	used_at               timestamptz
);
CREATE INDEX authorization_codes_client_id ON authorization_codes (client_id);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

-- A grant's refresh token hashes are kept in the row, in their order, and
-- indexed in refresh_tokens, one row per hash (the primary key: a hash
-- belongs to one grant at most), for GetGrantByRefreshHash.
CREATE TABLE grants (
	id                      text COLLATE "C" NOT NULL PRIMARY KEY,
	client_id               text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	subject                 text COLLATE "C" NOT NULL,
	scope                   text             NOT NULL,
	resources               text[],
	claims                  bytea,
	created_at              timestamptz      NOT NULL,
	updated_at              timestamptz      NOT NULL,
	expires_at              timestamptz,
	idle_expires_at         timestamptz,
	revision                bigint           NOT NULL,
	refresh_hashes          bytea[],
	prev_refresh_hash       bytea,
	prev_refresh_expires_at timestamptz,
	retired_refresh_hashes  bytea[]
);
CREATE INDEX grants_client_id ON grants (client_id);
CREATE INDEX grants_expires_at ON grants (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX grants_idle_expires_at ON grants (idle_expires_at) WHERE idle_expires_at IS NOT NULL;

CREATE TABLE refresh_tokens (
	hash     bytea            NOT NULL PRIMARY KEY,
	grant_id text COLLATE "C" NOT NULL REFERENCES grants (id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);

CREATE TABLE consents (
	client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	subject    text COLLATE "C" NOT NULL,
	scope      text             NOT NULL,
	resources  text[],
	granted_at timestamptz      NOT NULL,
	expires_at timestamptz,
	PRIMARY KEY (client_id, subject)
);
CREATE INDEX consents_expires_at ON consents (expires_at) WHERE expires_at IS NOT NULL;

-- The grant an access token was issued from (NULL for client_credentials):
-- deleting the grant deletes its tokens. Most tokens have none, so the index
-- leaves them out.
ALTER TABLE access_tokens
	ADD COLUMN grant_id  text COLLATE "C" REFERENCES grants (id) ON DELETE CASCADE,
	ADD COLUMN subject   text COLLATE "C" NOT NULL DEFAULT '',
	ADD COLUMN resources text[];
CREATE INDEX access_tokens_grant_id ON access_tokens (grant_id) WHERE grant_id IS NOT NULL;
