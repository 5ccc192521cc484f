-- Sessions of signed-in users at the standalone server's pages (see
-- store.SessionStore). A session belongs to no client; DeleteExpired
-- removes it once its idle or absolute lifetime has passed. Times are Unix
-- microseconds in UTC. (Version 0007 is another change's.)

CREATE TABLE sessions (
	hash            BLOB    NOT NULL PRIMARY KEY,
	subject         TEXT    NOT NULL,
	name            TEXT    NOT NULL,
	claims          BLOB,
	created_at      INTEGER NOT NULL,
	last_seen_at    INTEGER NOT NULL,
	idle_expires_at INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_idle_expires_at ON sessions (idle_expires_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
