// A real MCP client (@modelcontextprotocol/sdk's Client over the
// StreamableHTTPClientTransport, the version in package-lock.json) calls a
// tool of adapters/mcp/examples/mcp-server, a Go MCP server protected by
// clientreg in the same process. The client connects, is refused with 401
// and the RFC 9728 challenge, discovers clientreg through the server's
// protected resource metadata, registers, sends the user to the
// authorization endpoint with PKCE and the resource, exchanges the code,
// connects again with the token and calls whoami.
//
// The script plays the browser: the example's demo login trusts the
// X-Demo-User header from loopback and approves at once.
//
// Usage: MCP_SERVER_URL=http://127.0.0.1:PORT node mcp-tool.mjs
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const base = process.env.MCP_SERVER_URL;
if (!base) {
  console.error('MCP_SERVER_URL is not set');
  process.exit(2);
}
const serverUrl = new URL('/mcp', base);
const user = 'alice@example.com';

// The client's storage, in memory, as an MCP client keeps it.
const saved = {};
const redirectUrl = 'http://127.0.0.1:33419/callback';
let authorizationUrl;
const authProvider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return {
      client_name: 'MCP tool e2e',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  state: () => 'e2e-state-2',
  clientInformation: () => saved.client,
  saveClientInformation: (c) => { saved.client = c; },
  tokens: () => saved.tokens,
  saveTokens: (t) => { saved.tokens = t; },
  redirectToAuthorization: (url) => { authorizationUrl = url; },
  saveCodeVerifier: (v) => { saved.verifier = v; },
  codeVerifier: () => saved.verifier,
};

// 1. Without a token: 401, the SDK authorizes up to the redirect.
const client = new Client({ name: 'clientreg-e2e', version: '1.0.0' });
let transport = new StreamableHTTPClientTransport(serverUrl, { authProvider });
await assert.rejects(client.connect(transport), UnauthorizedError);
assert.ok(saved.client?.client_id, 'the SDK registered a client');
const u = new URL(authorizationUrl);
assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
assert.equal(u.searchParams.get('resource'), serverUrl.href, 'the resource indicator is the MCP server');
console.log('registered', saved.client.client_id, 'and sent to', u.origin + u.pathname);

// 2. The browser: the demo login approves and redirects with a code.
const res = await fetch(authorizationUrl, { headers: { 'X-Demo-User': user }, redirect: 'manual' });
assert.equal(res.status, 303, `the approval redirects (got ${res.status}: ${await res.text()})`);
const back = new URL(res.headers.get('location'));
assert.equal(back.origin + back.pathname, redirectUrl);
assert.equal(back.searchParams.get('state'), 'e2e-state-2');
const code = back.searchParams.get('code');
assert.ok(code, 'the redirect carries a code');

// 3. The code exchange, then a new connection with the token.
await transport.finishAuth(code);
assert.ok(saved.tokens?.access_token, 'an access token');
transport = new StreamableHTTPClientTransport(serverUrl, { authProvider });
await client.connect(transport);
const { tools } = await client.listTools();
assert.deepEqual(tools.map((t) => t.name), ['whoami']);
const result = await client.callTool({ name: 'whoami', arguments: {} });
assert.ok(!result.isError, JSON.stringify(result));
const text = result.content.map((c) => c.text).join('');
assert.match(text, new RegExp(`^you are ${user.replace('.', '\\.')} \\(client ${saved.client.client_id}\\)$`));
console.log('whoami:', text);
await client.close();

// 4. A token clientreg never issued is refused, with the RFC 9728 challenge.
const bad = await fetch(serverUrl, {
  method: 'POST',
  headers: { Authorization: 'Bearer not-a-token', 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
});
assert.equal(bad.status, 401);
assert.match(bad.headers.get('www-authenticate') || '', /resource_metadata="[^"]*\/\.well-known\/oauth-protected-resource\/mcp"/);
console.log('mcp-tool: ok');
