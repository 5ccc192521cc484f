-- Sibling registration access tokens (store.Client.SiblingTokenHashes): the
-- further current tokens of a client that updates made with its previous
-- token, within that token's grace window, handed out. Normally a client has
-- none. The primary key makes a hash unique among the siblings of all
-- clients; uniqueness against clients.token_hash and clients.prev_token_hash
-- is checked by the store inside its write transactions, under the advisory
-- locks of the hashes, as between those two columns. position keeps the order
-- of the list.
CREATE TABLE client_token_siblings (
	hash      bytea            NOT NULL PRIMARY KEY,
	client_id text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	position  integer          NOT NULL
);
CREATE INDEX client_token_siblings_client_id ON client_token_siblings (client_id, position);
