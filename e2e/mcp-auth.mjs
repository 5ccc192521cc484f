// The MCP TypeScript SDK's OAuth client (@modelcontextprotocol/sdk, the
// version in package-lock.json) runs its whole auth() flow against a real
// `clientreg serve --login header`: it discovers the authorization server
// through an MCP server's protected resource metadata (RFC 9728), registers
// (RFC 7591) — or, with CIMD_CERT and CIMD_KEY set, uses a Client ID
// Metadata Document instead, served here over https on loopback with that
// certificate (the server must trust its CA and run with
// --fetch-allow-loopback) —, sends the user to the authorization endpoint
// with PKCE S256 and an RFC 8707 resource, exchanges the code and refreshes
// the token.
//
// This script plays the two parts no SDK plays: the MCP server's metadata
// document (a loopback HTTP server of its own) and the browser behind a
// trusted sign-in proxy (it sends the login header, keeps the cookies and
// submits the consent form). It exits non-zero on the first failure.
//
// Usage: CLIENTREG_URL=http://127.0.0.1:PORT [LOGIN_HEADER=X-Forwarded-User]
// [CIMD_CERT=cert.pem CIMD_KEY=key.pem] node mcp-auth.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';

const issuer = process.env.CLIENTREG_URL;
if (!issuer) {
  console.error('CLIENTREG_URL is not set');
  process.exit(2);
}
const loginHeader = process.env.LOGIN_HEADER || 'X-Forwarded-User';
const user = 'alice@example.com';

// The MCP server's side: only its RFC 9728 metadata, which names clientreg.
const prm = http.createServer((req, res) => {
  if (req.url.startsWith('/.well-known/oauth-protected-resource')) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ resource: serverUrl.href, authorization_servers: [issuer], bearer_methods_supported: ['header'] }));
    return;
  }
  res.writeHead(404).end();
});
await new Promise((resolve) => prm.listen(0, '127.0.0.1', resolve));
const serverUrl = new URL(`http://127.0.0.1:${prm.address().port}/mcp`);

// The client's storage, in memory, as an MCP client keeps it.
const saved = {};
const redirectUrl = 'http://127.0.0.1:33418/callback';

// With CIMD_CERT and CIMD_KEY: the client's metadata document, over https.
let documentUrl;
let docServer;
if (process.env.CIMD_CERT) {
  docServer = https.createServer({ cert: fs.readFileSync(process.env.CIMD_CERT), key: fs.readFileSync(process.env.CIMD_KEY) }, (req, res) => {
    if (req.url !== '/mcp-client.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=600' });
    res.end(JSON.stringify({
      client_id: documentUrl,
      client_name: 'MCP SDK e2e',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }));
  });
  await new Promise((resolve) => docServer.listen(0, '127.0.0.1', resolve));
  documentUrl = `https://127.0.0.1:${docServer.address().port}/mcp-client.json`;
}
let authorizationUrl;
const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return {
      client_name: 'MCP SDK e2e',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  clientMetadataUrl: documentUrl,
  state: () => 'e2e-state-1',
  clientInformation: () => saved.client,
  saveClientInformation: (c) => { saved.client = c; },
  tokens: () => saved.tokens,
  saveTokens: (t) => { saved.tokens = t; },
  redirectToAuthorization: (url) => { authorizationUrl = url; },
  saveCodeVerifier: (v) => { saved.verifier = v; },
  codeVerifier: () => saved.verifier,
};

try {
  // 1. Discovery, registration and the start of the authorization.
  assert.equal(await auth(provider, { serverUrl }), 'REDIRECT');
  assert.ok(saved.client?.client_id, 'the SDK has a client');
  if (documentUrl) {
    assert.equal(saved.client.client_id, documentUrl, 'the client_id is the metadata document URL, with no registration');
  }
  const u = new URL(authorizationUrl);
  assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(u.searchParams.get('resource'), serverUrl.href, 'the resource indicator is the MCP server');
  console.log('registered', saved.client.client_id, 'and sent to', u.origin + u.pathname);

  // 2. The browser behind the proxy: the consent page, then approval.
  const jar = new Map();
  const browse = async (url, init = {}) => {
    const headers = { [loginHeader]: user, ...(init.headers || {}) };
    if (jar.size) headers.Cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  };
  let res = await browse(authorizationUrl);
  if (res.status === 200) {
    const page = await res.text();
    assert.match(res.headers.get('content-security-policy') || '', /frame-ancestors 'none'/);
    assert.ok(page.includes('MCP SDK e2e'), 'the consent page names the client');
    const form = parseForm(page);
    const body = new URLSearchParams(form.fields);
    body.set(form.approve.name, form.approve.value);
    res = await browse(new URL(form.action, authorizationUrl), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
    });
  }
  assert.ok([302, 303].includes(res.status), `the approval redirects (got ${res.status}: ${await res.text()})`);
  const back = new URL(res.headers.get('location'));
  assert.equal(back.origin + back.pathname, redirectUrl);
  assert.equal(back.searchParams.get('state'), 'e2e-state-1');
  assert.equal(back.searchParams.get('iss'), issuer, 'RFC 9207 iss');
  const code = back.searchParams.get('code');
  assert.ok(code, 'the redirect carries a code');

  // 3. The code exchange.
  assert.equal(await auth(provider, { serverUrl, authorizationCode: code }), 'AUTHORIZED');
  const first = saved.tokens;
  assert.ok(first.access_token && first.refresh_token, 'an access token and a refresh token');
  console.log('exchanged the code: token_type', first.token_type, 'expires_in', first.expires_in);

  // 4. The refresh: the SDK refreshes when it holds a refresh token; the
  //    refresh token rotates (a public client's always does).
  assert.equal(await auth(provider, { serverUrl }), 'AUTHORIZED');
  const second = saved.tokens;
  assert.notEqual(second.access_token, first.access_token);
  assert.notEqual(second.refresh_token, first.refresh_token, 'the refresh token rotated');
  console.log('refreshed: the refresh token rotated');
  console.log('mcp-auth: ok');
} finally {
  prm.close();
  docServer?.close();
}

// parseForm reads the consent page's form: its action, its hidden fields and
// the approve button (a <button type="submit"> with a name and a value).
function parseForm(html) {
  const form = html.match(/<form\b[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i);
  assert.ok(form, 'the consent page has a form');
  const attr = (tag, name) => (tag.match(new RegExp(`\\b${name}="([^"]*)"`, 'i')) || [])[1];
  const unescape = (s) => s.replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d)))
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const fields = {};
  for (const [tag] of form[2].matchAll(/<input\b[^>]*>/gi)) {
    if ((attr(tag, 'type') || '').toLowerCase() === 'hidden') fields[unescape(attr(tag, 'name'))] = unescape(attr(tag, 'value') || '');
  }
  let approve;
  for (const [tag] of form[2].matchAll(/<button\b[^>]*>/gi)) {
    const value = unescape(attr(tag, 'value') || '');
    if ((attr(tag, 'type') || '').toLowerCase() === 'submit' && value === 'approve') approve = { name: unescape(attr(tag, 'name')), value };
  }
  assert.ok(approve, 'the consent form has an approve button');
  return { action: unescape(form[1]), fields, approve };
}
