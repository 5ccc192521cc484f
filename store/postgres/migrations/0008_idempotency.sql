-- The records of idempotency keys of registration requests
-- (store.IdempotencyRecord): keyed hashes of the key and of the request,
-- the state (pending or done) and the response as the caller's ciphertext.
-- The key hash is the primary key, so that of several instances reserving
-- one key at once exactly one inserts its row; ReserveIdempotencyKey
-- replaces a row that has expired (an upsert on key_hash). DeleteExpired
-- selects by expires_at.
-- (Version 0007 is another branch's; numbers may have gaps.)

CREATE TABLE idempotency_keys (
	key_hash            bytea       NOT NULL PRIMARY KEY,
	request_hash        bytea       NOT NULL,
	state               text        NOT NULL CHECK (state IN ('pending', 'done')),
	response_ciphertext bytea,
	created_at          timestamptz NOT NULL,
	expires_at          timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
