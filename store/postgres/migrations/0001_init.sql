-- Clients: one row per registered client. Times are timestamptz with
-- microsecond precision; NULL means "not set" (the zero time.Time). metadata is
-- the JSON encoding of clientreg.Metadata (Metadata.MarshalJSON), kept byte
-- for byte: bytea, not jsonb, which would reorder and normalize it. id uses
-- the "C" collation so that client IDs compare byte for byte whatever the
-- database's default collation.
CREATE TABLE clients (
	id                    text COLLATE "C" NOT NULL PRIMARY KEY,
	issued_at             timestamptz      NOT NULL,
	updated_at            timestamptz      NOT NULL,
	revision              bigint           NOT NULL,
	metadata              bytea            NOT NULL,
	secret_hash           bytea,
	secret_expires_at     timestamptz,
	token_hash            bytea            NOT NULL,
	prev_token_hash       bytea,
	prev_token_expires_at timestamptz,
	-- A token hash is unique within each column (NULLs are distinct);
	-- uniqueness across the two columns is checked by the store inside its
	-- write transactions, under a transaction-scoped advisory lock per hash.
	CONSTRAINT clients_token_hash_key UNIQUE (token_hash),
	CONSTRAINT clients_prev_token_hash_key UNIQUE (prev_token_hash)
);

-- Initial access tokens (RFC 7591 section 3), by keyed hash.
CREATE TABLE initial_tokens (
	hash       bytea       NOT NULL PRIMARY KEY,
	created_at timestamptz NOT NULL,
	expires_at timestamptz,
	max_uses   bigint      NOT NULL,
	uses       bigint      NOT NULL
);
