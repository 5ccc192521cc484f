-- The signing keys of JWT access tokens (store.SigningKey): the private key
-- only as the caller's ciphertext, the public JWK as opaque bytes (bytea,
-- not jsonb, which would normalize it). The generation is unique, so that
-- of several instances creating one generation at once exactly one inserts
-- its row; CreateSigningKey replaces a row whose key has expired (an upsert
-- on generation). ListSigningKeys and DeleteExpired select by expires_at.
-- (Version 0005 is the authorization server's; numbers may have gaps.)

CREATE TABLE signing_keys (
	id                     text COLLATE "C" NOT NULL PRIMARY KEY,
	generation             bigint           NOT NULL UNIQUE,
	algorithm              text             NOT NULL,
	private_key_ciphertext bytea            NOT NULL,
	public_jwk             bytea            NOT NULL,
	created_at             timestamptz      NOT NULL,
	activate_at            timestamptz      NOT NULL,
	retire_at              timestamptz      NOT NULL,
	expires_at             timestamptz      NOT NULL
);
CREATE INDEX signing_keys_expires_at ON signing_keys (expires_at);
