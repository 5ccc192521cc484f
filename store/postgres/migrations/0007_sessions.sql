-- Sessions of signed-in users at the standalone server's pages (see
-- store.SessionStore). A session belongs to no client; DeleteExpired
-- removes it once its idle or absolute lifetime has passed. (Version 0006
-- is another change's.)

CREATE TABLE sessions (
	hash            bytea       NOT NULL PRIMARY KEY,
	subject         text        NOT NULL,
	name            text        NOT NULL,
	claims          bytea,
	created_at      timestamptz NOT NULL,
	last_seen_at    timestamptz NOT NULL,
	idle_expires_at timestamptz NOT NULL,
	expires_at      timestamptz NOT NULL
);
CREATE INDEX sessions_idle_expires_at ON sessions (idle_expires_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
