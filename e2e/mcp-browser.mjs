// A real MCP client (@modelcontextprotocol/sdk's Client over the
// StreamableHTTPClientTransport) whose user signs in with a real browser:
// the client of internal/cli's browser tests (TestBrowserOIDCLogin,
// TestBrowserDevLogin), which start `clientreg serve`, the example MCP
// server in external mode (adapters/mcp/examples/mcp-server
// -authorization-server ISSUER) and chromium.
//
// The client connects to MCP_URL, is refused with 401 and the RFC 9728
// challenge, discovers the authorization server through the MCP server's
// protected resource metadata, registers with a loopback redirect URI
// served by this script (RFC 8252 §7.3), and "opens the browser": it prints
//
//	AUTHORIZE <authorization URL>
//
// on stdout and waits (MCP_BROWSER_TIMEOUT_MS, default 3 minutes) for the
// browser to come back to its callback with the code. Then it exchanges
// the code, connects again with the token, calls the whoami tool and
// prints
//
//	TOOL <the tool's answer>
//
// and exits 0; any failure exits non-zero with the reason on stderr.
//
// Usage: MCP_URL=http://127.0.0.1:PORT/mcp node mcp-browser.mjs
import assert from 'node:assert/strict';
import http from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const mcpUrl = process.env.MCP_URL;
if (!mcpUrl) {
  console.error('MCP_URL is not set');
  process.exit(2);
}
const serverUrl = new URL(mcpUrl);
const timeoutMs = Number(process.env.MCP_BROWSER_TIMEOUT_MS || 180000);
const state = 'browser-' + Math.random().toString(36).slice(2);

// The loopback callback: the browser lands here with the code.
let gotCallback;
const callback = new Promise((resolve, reject) => {
  gotCallback = { resolve, reject };
});
callback.catch(() => {}); // awaited below; a too early failure is not unhandled
const cbServer = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  if (u.pathname !== '/callback') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>done</title><p id="done">Signed in; you can close this window.</p>');
  if (u.searchParams.get('error')) {
    gotCallback.reject(new Error(`the authorization failed: ${u.search}`));
  } else if (u.searchParams.get('state') !== state) {
    gotCallback.reject(new Error(`the callback's state ${u.searchParams.get('state')} is not ${state}`));
  } else {
    gotCallback.resolve(u.searchParams);
  }
});
await new Promise((resolve) => cbServer.listen(0, '127.0.0.1', resolve));
const redirectUrl = `http://127.0.0.1:${cbServer.address().port}/callback`;

// The client's storage, in memory.
const saved = {};
let authorizationUrl;
const authProvider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return {
      client_name: 'Example MCP Client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'mcp:tools',
    };
  },
  state: () => state,
  clientInformation: () => saved.client,
  saveClientInformation: (c) => { saved.client = c; },
  tokens: () => saved.tokens,
  saveTokens: (t) => { saved.tokens = t; },
  redirectToAuthorization: (url) => {
    authorizationUrl = url;
    console.log(`AUTHORIZE ${url.href}`);
  },
  saveCodeVerifier: (v) => { saved.verifier = v; },
  codeVerifier: () => saved.verifier,
};

let timer;
try {
  // 1. Without a token: 401; the SDK discovers, registers and "opens the
  // browser".
  const client = new Client({ name: 'clientreg-browser-e2e', version: '1.0.0' });
  let transport = new StreamableHTTPClientTransport(serverUrl, { authProvider });
  await assert.rejects(client.connect(transport), UnauthorizedError);
  assert.ok(saved.client?.client_id, 'the SDK registered a client');
  assert.ok(authorizationUrl, 'the SDK sent the user to the authorization endpoint');
  assert.equal(authorizationUrl.searchParams.get('resource'), serverUrl.href, 'the resource indicator is the MCP server');

  // 2. The browser signs in, approves and comes back with the code.
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no callback within ${timeoutMs} ms`)), timeoutMs);
  });
  const params = await Promise.race([callback, timeout]);
  clearTimeout(timer);
  const code = params.get('code');
  assert.ok(code, 'the callback carries a code');
  console.error('mcp-browser: got the code; iss', params.get('iss'));

  // 3. The code exchange, a new connection with the token, the tool.
  await transport.finishAuth(code);
  assert.ok(saved.tokens?.access_token, 'an access token');
  transport = new StreamableHTTPClientTransport(serverUrl, { authProvider });
  await client.connect(transport);
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  assert.ok(!result.isError, JSON.stringify(result));
  const text = result.content.map((c) => c.text).join('');
  console.log(`TOOL ${text}`);
  await client.close();
} catch (err) {
  clearTimeout(timer);
  console.error('mcp-browser:', err?.stack || err);
  process.exitCode = 1;
} finally {
  cbServer.closeAllConnections();
  cbServer.close();
}
