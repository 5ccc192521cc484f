// End-to-end check of clientreg with a real client library, openid-client
// v6: discover the server (RFC 8414), register dynamically (RFC 7591) and
// get an access token with the client_credentials grant, then introspect and
// revoke it. The server's address comes from CLIENTREG_URL.
import * as client from 'openid-client';
import assert from 'node:assert/strict';

const base = process.env.CLIENTREG_URL;
if (!base) {
  console.error('set CLIENTREG_URL to a running clientreg server');
  process.exit(2);
}
const server = new URL(base);
// The test server listens on loopback over plain http.
// clientreg is an OAuth 2.0 server: RFC 8414 discovery, not OpenID's.
const options = { execute: [client.allowInsecureRequests], algorithm: 'oauth2' };

const config = await client.dynamicClientRegistration(
  server,
  {
    client_name: 'openid-client e2e',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'read',
  },
  // The method registered above: clientreg accepts exactly that one.
  client.ClientSecretBasic(),
  options,
);
const meta = config.clientMetadata();
assert.ok(meta.client_id, 'client_id issued');
assert.ok(meta.client_secret, 'client_secret issued');
assert.ok(meta.registration_access_token, 'registration_access_token issued');
const as = config.serverMetadata();
assert.equal(as.issuer, server.href.replace(/\/$/, ''));
assert.ok(as.token_endpoint, 'token_endpoint advertised');

const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
assert.ok(tokens.access_token, 'access token issued');
assert.equal(tokens.token_type.toLowerCase(), 'bearer');
assert.equal(tokens.scope, 'read');

const info = await client.tokenIntrospection(config, tokens.access_token);
assert.equal(info.active, true);
assert.equal(info.client_id, meta.client_id);

await client.tokenRevocation(config, tokens.access_token);
const after = await client.tokenIntrospection(config, tokens.access_token);
assert.equal(after.active, false);

console.log('e2e openid-client: discovery, registration, client_credentials, introspection, revocation ok');
