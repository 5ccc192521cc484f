-- The signing keys of JWT access tokens (store.SigningKey): the private key
-- only as the caller's ciphertext, the public JWK as opaque bytes. Times are
-- Unix microseconds in UTC, none NULL. The generation is unique: of several
-- creations of one generation exactly one inserts its row, and
-- CreateSigningKey replaces a row whose key has expired (an upsert on
-- generation). ListSigningKeys and DeleteExpired select by expires_at.
-- (Version 0006 is the authorization server's; numbers may have gaps.)

CREATE TABLE signing_keys (
	id                     TEXT    NOT NULL PRIMARY KEY,
	generation             INTEGER NOT NULL UNIQUE,
	algorithm              TEXT    NOT NULL,
	private_key_ciphertext BLOB    NOT NULL,
	public_jwk             BLOB    NOT NULL,
	created_at             INTEGER NOT NULL,
	activate_at            INTEGER NOT NULL,
	retire_at              INTEGER NOT NULL,
	expires_at             INTEGER NOT NULL
) STRICT;
CREATE INDEX signing_keys_expires_at ON signing_keys (expires_at);
