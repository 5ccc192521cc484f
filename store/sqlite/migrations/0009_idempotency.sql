-- The records of idempotency keys of registration requests
-- (store.IdempotencyRecord): keyed hashes of the key and of the request,
-- the state (pending or done) and the response as the caller's ciphertext.
-- Times are Unix microseconds in UTC. The key hash is the primary key, so
-- that of several reservations of one key exactly one inserts its row;
-- ReserveIdempotencyKey replaces a row that has expired (an upsert on
-- key_hash). DeleteExpired selects by expires_at.
-- (Version 0008 is another branch's; numbers may have gaps.)

CREATE TABLE idempotency_keys (
	key_hash            BLOB    NOT NULL PRIMARY KEY,
	request_hash        BLOB    NOT NULL,
	state               TEXT    NOT NULL CHECK (state IN ('pending', 'done')),
	response_ciphertext BLOB,
	created_at          INTEGER NOT NULL,
	expires_at          INTEGER NOT NULL
) STRICT;
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
