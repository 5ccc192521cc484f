-- Disabled clients (store.Client.DisabledAt): when the operator disabled the
-- client (Unix microseconds in UTC), NULL while it is enabled, which is the
-- normal state. SetClientDisabled writes it; CreateAccessToken refuses a
-- client whose disabled_at is set, in the statement that inserts the token.
--
-- That statement finds the client in the primary key index alone, without
-- reading its row (which, metadata and all, can span pages); the partial
-- index of the disabled clients lets it check disabled_at the same way, by
-- a lookup in an index that holds only the clients disabled (normally
-- none). Registering, updating, touching or deleting an enabled client
-- writes nothing to it.
-- (Version 0010 is the lifecycle's; numbers may have gaps.)

ALTER TABLE clients ADD COLUMN disabled_at INTEGER;
CREATE INDEX clients_disabled ON clients (id) WHERE disabled_at IS NOT NULL;
