// node-oidc-provider configured like clientreg serve for the token phases
// of clientreg-bench (token, introspect, code, refresh): open registration,
// client_credentials, introspection, and the authorization code grant with
// PKCE required (S256, the only method oidc-provider 9 knows) and refresh
// tokens that rotate on every use, as clientreg's do for public clients.
// Users sign in and consent through the package's development interactions
// (a login form that takes any user name and password, then a consent
// form), which clientreg-bench fills and submits.
//
// It is not part of the shared benchmark kit: tools/perf/run.sh copies it
// into the kit's peers/oidc-provider directory (KIT is a writable copy)
// and runs it there with node, so that `import 'oidc-provider'` resolves to
// the kit's node_modules (the version the kit pins). By hand:
//
//   cp tools/perf/peers/oidc-provider.mjs /tmp/bench/peers/oidc-provider/clientreg-tokens.mjs
//   (cd /tmp/bench/peers/oidc-provider && PORT=3001 node clientreg-tokens.mjs)
//
// Env:
//   PORT=3001         listen port (always on 127.0.0.1)
//   RESOURCES=URI,... resource indicators (RFC 8707) the server issues tokens
//                     for (opaque, with that audience; default
//                     https://mcp.example/); clientreg-bench's -resource must
//                     name one of them.
//   SCOPES="read"     the scopes of those resource servers. oidc-provider
//                     refuses (access_denied) an authorization that grants no
//                     scope, and without openid (whose ID token clientreg does
//                     not sign) only a resource server's scope can be
//                     granted: measure the code and refresh phases with
//                     -scope read -resource https://mcp.example/, on both
//                     servers.
//   STORE_MAX=<n>     capacity of the in-memory store (default 1000000; the
//                     package default of 1000 entries per generation drops
//                     grants and clients under load). STORE_MAX=default
//                     keeps the package default store.
import Provider, { errors } from 'oidc-provider';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const port = Number(process.env.PORT || 3001);
const host = '127.0.0.1';
const issuer = `http://${host}:${port}`;
const storeMax = process.env.STORE_MAX ?? '1000000';
const resources = (process.env.RESOURCES || 'https://mcp.example/').split(',').map((s) => s.trim()).filter(Boolean);
const scopes = process.env.SCOPES ?? 'read';

const extra = {};
if (storeMax !== 'default') {
  const store = new LRU({ maxSize: Number(storeMax) });
  extra.adapter = (model) => new MemoryAdapter(model, store);
}

const provider = new Provider(issuer, {
  ...extra,
  clients: [],
  // Clients may register the resource servers' scopes (registration refuses
  // a scope the server does not list).
  scopes: ['openid', 'offline_access', ...scopes.split(' ').filter(Boolean)],
  features: {
    // The login and consent pages clientreg-bench's code phase goes through.
    devInteractions: { enabled: true },
    registration: { enabled: true },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, _client, oneOf) => oneOf,
      // The token of a code exchange or refresh is for the resource the
      // user approved, as clientreg's are.
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (!resources.includes(resource)) throw new errors.InvalidTarget();
        return { scope: scopes, audience: resource, accessTokenFormat: 'opaque' };
      },
    },
  },
  // clientreg requires PKCE with S256 for every authorization request.
  pkce: { required: () => true },
  // clientreg issues a refresh token to every client registered with the
  // refresh_token grant (not only for offline_access) ...
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  // ... and rotates it on every use.
  rotateRefreshToken: () => true,
});
provider.proxy = false;

provider.on('server_error', (_ctx, err) => {
  console.error('server_error', err);
});

const server = provider.listen(port, host, () => {
  console.log(`oidc-provider ${issuer} (clientreg-bench token phases) resources=${resources.join(',') || 'none'} scopes=${scopes} store=${storeMax}`);
});

function shutdown() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
