-- Disabled clients (store.Client.DisabledAt): when the operator disabled the
-- client, NULL while it is enabled, which is the normal state.
-- SetClientDisabled writes it, holding the client's row FOR UPDATE;
-- CreateAccessToken refuses a client whose disabled_at is set, in the
-- statement that inserts the token and locks the client's row FOR KEY SHARE
-- (see CreateAccessToken). No index: ListClients does not select by it.
-- Adding a nullable column without a default rewrites no rows.
-- (Version 0009 is the lifecycle's; numbers may have gaps.)

ALTER TABLE clients ADD COLUMN disabled_at timestamptz;
