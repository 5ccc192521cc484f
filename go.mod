module github.com/clientreg/clientreg

go 1.26.0

// Direct dependencies, each chosen on purpose:
//   - go-jose: JWK Set validation of the jwks member (and, later, JWS for
//     software statements and private_key_jwt); no hand-rolled JOSE.
//   - modernc.org/sqlite: the default store, pure Go, so a fresh machine
//     needs no cgo toolchain to build or run the server.
//   - pgx: the PostgreSQL store (store/postgres), for several instances on
//     one database; its pool, context handling and error codes.
//   - go.yaml.in/yaml/v3: the server's --config file (registration policies,
//     trusted issuers), decoded strictly; YAML is what Go servers (Hydra,
//     dex, Kubernetes) use for configuration, and this is the maintained
//     continuation of gopkg.in/yaml.v3.
//   - go-oidc (with golang.org/x/oauth2): serve --login oidc, sign-in at an
//     upstream OpenID provider. go-oidc verifies the ID token (signature
//     with the provider's cached JWKS, issuer, audience, expiry) and
//     oauth2 runs the code flow with PKCE: no hand-written token checks.
//   - prometheus/client_golang: Config.Metrics and serve --metrics-addr
//     (client_model is what its Gather returns, read by the tests).
require (
	github.com/coreos/go-oidc/v3 v3.21.0
	github.com/go-jose/go-jose/v4 v4.1.9
	github.com/jackc/pgx/v5 v5.12.0
	github.com/prometheus/client_golang v1.25.0
	github.com/prometheus/client_model v0.6.3
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/oauth2 v0.38.0
	modernc.org/sqlite v1.62.0
)

// Test-only: internal/cli's end-to-end test of the Go MCP SDK's OAuth
// client against a real server, and chromedp, which drives a headless
// Chromium through the sign-in and consent pages in internal/cli's
// real-browser tests (and takes docs/consent.png). No non-test package
// imports them.
require (
	github.com/chromedp/chromedp v0.23.0
	github.com/modelcontextprotocol/go-sdk v1.8.0
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/chromedp/cdproto v0.160.1 // indirect
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/segmentio/asm v1.1.3 // indirect
	github.com/segmentio/encoding v0.5.4 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
)
