-- Registration policies: the policy a client registered under, and the policy
-- that registrations with an initial access token are subject to ('' for
-- none). CreateClient counts a policy's clients for CreateOptions.MaxClients
-- through the partial index, which leaves out the clients of no policy (most
-- of them) so that they cost no index maintenance.
ALTER TABLE clients ADD COLUMN policy TEXT NOT NULL DEFAULT '';
ALTER TABLE initial_tokens ADD COLUMN policy TEXT NOT NULL DEFAULT '';
CREATE INDEX clients_policy ON clients (policy) WHERE policy <> '';
