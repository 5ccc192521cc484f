-- The lifecycle of registered clients: how each was registered (origin:
-- 'anonymous', 'initial_token', 'operator'; '' for the clients stored
-- before, which no purge selects) and when it was last used (NULL for
-- never), which TouchClient records coarsely and PurgeClients selects by.
-- (Version 0008 is idempotency's; numbers may have gaps.)

ALTER TABLE clients ADD COLUMN origin text NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN last_used_at timestamptz;
CREATE INDEX clients_origin_last_used ON clients (origin, last_used_at, issued_at);
