-- A client has a previous registration access token only for a while after
-- a rotation, so most rows hold NULL in prev_token_hash. The index of the
-- column leaves them out: registering or deleting such a client no longer
-- writes to it (one B-tree fewer per write). Every query on the column
-- compares it with =, which implies IS NOT NULL, so SQLite still uses the
-- index for them (TestQueryPlans); uniqueness among the non-NULL values is
-- unchanged.
DROP INDEX clients_prev_token_hash;
CREATE UNIQUE INDEX clients_prev_token_hash ON clients (prev_token_hash) WHERE prev_token_hash IS NOT NULL;
