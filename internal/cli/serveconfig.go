package cli

import (
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

// configSource says where the parts of serve's clientreg.Config come from,
// so that an error of clientreg.New can be told in the terms of the flags
// and the configuration file instead of the Go names of Config's fields.
type configSource struct {
	// file is the --config path; "" for none.
	file string
	// fileIssuers is true when the trusted issuers come from the file's
	// trusted_issuers (they never come from both it and --trust-issuer).
	fileIssuers bool
}

// config builds serve's clientreg.Config, without Issuer, Store and
// SecretKey, from the flags and the configuration file, and checks what
// can be checked without them. It opens nothing but the files it reads.
func (o *serveOptions) config(log *slog.Logger) (clientreg.Config, configSource, error) {
	fileCfg, err := loadConfig(*o.configFile)
	if err != nil {
		return clientreg.Config{}, configSource{}, serveUsageError("%w", err)
	}
	src := configSource{file: *o.configFile, fileIssuers: len(fileCfg.issuers) > 0}
	if len(*o.trustIssuers) > 0 && src.fileIssuers {
		return clientreg.Config{}, src, serveUsageError("--trust-issuer and the trusted_issuers of --config %s are both set: "+
			"list every trusted issuer in one place (the file's trusted_issuers also take algorithms and a policy)", src.file)
	}
	trusted := fileCfg.issuers
	if !src.fileIssuers {
		if trusted, err = trustedIssuers(*o.trustIssuers); err != nil {
			return clientreg.Config{}, src, serveUsageError("%w", err)
		}
	}
	if *o.anonymousPublicOnly && fileCfg.defaultPolicy != "" {
		return clientreg.Config{}, src, serveUsageError("--anonymous-public-only and the default_policy of --config %s are both set: "+
			"give the default policy allowed_auth_methods: [none] instead", src.file)
	}
	if len(*o.scopes) > 0 {
		for _, s := range *o.defaultScopes {
			if !slices.Contains(*o.scopes, s) {
				return clientreg.Config{}, src, serveUsageError("--default-scopes: default scope %q is not in --scopes", s)
			}
		}
	}
	var mayIntrospect clientreg.IntrospectionPolicy
	if ids := *o.introspectors; len(ids) > 0 {
		mayIntrospect = func(caller *clientreg.Client, tok *store.AccessToken) bool {
			return caller.ID == tok.ClientID || slices.Contains(ids, caller.ID)
		}
	}
	var proxies []netip.Prefix
	for _, p := range *o.trustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return clientreg.Config{}, src, serveUsageError("invalid value %q for --trusted-proxy: want a CIDR or an address", p)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		proxies = append(proxies, pfx)
	}
	overlap := *o.secretOverlap
	if overlap == 0 {
		overlap = clientreg.Off // --secret-overlap 0: no overlap (0 in a Config means the default)
	}
	// 0 on these flags means off (0 in a Config means the default).
	offIfZero := func(d time.Duration) time.Duration {
		if d == 0 {
			return clientreg.Off
		}
		return d
	}
	rotation := clientreg.RotateOnUpdate
	if *o.rotation == "never" {
		rotation = clientreg.RotateNever
	}
	grace := *o.ratGrace
	if grace == 0 {
		grace = clientreg.Off // --rat-grace 0: no grace (0 in a Config means the default)
	}
	cimd := clientreg.ClientMetadataDocumentPolicy{AllowedDomains: *o.cimdAllow, DeniedDomains: *o.cimdDeny}
	switch {
	case !*o.cimd:
		cimd.Enabled = clientreg.Off
	case o.cimdGiven:
		cimd.Enabled = clientreg.On
	}
	return clientreg.Config{
		ClientMetadataDocuments: cimd,
		// TLS roots: the system pool (SSL_CERT_FILE and SSL_CERT_DIR
		// apply), through the default transport.
		Fetch: clientreg.FetchPolicy{AllowLoopback: *o.fetchAllowLoopback},
		Metadata: &clientreg.ServerMetadata{
			AuthorizationEndpoint: *o.authzEndpoint,
			ScopesSupported:       *o.scopes,
			GrantTypesSupported:   *o.grantTypes,
		},
		DefaultScopes:              *o.defaultScopes,
		RequireInitialToken:        *o.registration == "token",
		TokenRotation:              rotation,
		TokenGrace:                 grace,
		SecretLifetime:             *o.secretLifetime,
		ServeTokenEndpoints:        *o.tokenEndpoints,
		AccessTokenLifetime:        *o.accessTokenLifetime,
		AccessTokenFormat:          accessTokenFormat(*o.accessTokenFormat),
		SecretOverlap:              overlap,
		IdempotencyKeyLifetime:     offIfZero(*o.idempotencyTTL),
		ClientIdleTTL:              offIfZero(*o.clientIdleTTL),
		ClientUnusedTTL:            offIfZero(*o.clientUnusedTTL),
		ExpireInitialTokenClients:  *o.expireTokenClients,
		MayIntrospect:              mayIntrospect,
		TrustedIssuers:             trusted,
		RequireSoftwareStatement:   *o.requireStatement,
		AnonymousPublicClientsOnly: *o.anonymousPublicOnly,
		Policies:                   fileCfg.policies,
		DefaultPolicy:              fileCfg.defaultPolicy,
		RedirectPreset:             clientreg.RedirectPreset(*o.redirectPreset),
		Limits:                     clientreg.Limits{Disabled: !*o.rateLimits, TrustedProxies: proxies},
		Logger:                     log,
	}, src, nil
}

// explainedError is an error of clientreg.New retold in the terms of the
// command line and the configuration file.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }

// The errors of clientreg.New that name a part of the configuration file.
var (
	policyErrRE        = regexp.MustCompile(`^Config\.Policies: policy "((?:[^"\\]|\\.)*)":? (.*)$`)
	noNameErrRE        = regexp.MustCompile(`^Config\.Policies: policy \d+ has no Name$`)
	defaultPolicyErrRE = regexp.MustCompile(`^Config\.DefaultPolicy ("(?:[^"\\]|\\.)*") is not one of Config\.Policies$`)
	issuerPolicyErrRE  = regexp.MustCompile(`^Config\.TrustedIssuers: issuer ("(?:[^"\\]|\\.)*") names policy ("(?:[^"\\]|\\.)*"), which is not one of Config\.Policies$`)
)

// goNames replaces the Go names that errors of clientreg.New use with the
// flags and configuration keys that set them.
var goNames = strings.NewReplacer(
	"Config.Issuer", "--issuer",
	"Config.DefaultScopes", "--default-scopes",
	"Config.AnonymousPublicClientsOnly", "--anonymous-public-only",
	"Config.SecretLifetime", "--secret-lifetime",
	"Config.TokenRotation", "--rat-rotation",
	"Config.TokenGrace", "--rat-grace",
	"Config.RedirectPreset", "--redirect-preset",
	"Config.AccessTokenLifetime", "--access-token-lifetime",
	"Config.SecretOverlap", "--secret-overlap",
	"Config.IdempotencyKeyLifetime", "--idempotency-ttl",
	"Config.ClientIdleTTL", "--client-idle-ttl",
	"Config.ClientUnusedTTL", "--client-unused-ttl",
	"Config.Limits", "--trusted-proxy",
	"Config.ClientMetadataDocuments.AllowedDomains", "--cimd-allow-domain",
	"Config.ClientMetadataDocuments.DeniedDomains", "--cimd-deny-domain",
	"Config.Metadata: ", "",
	"ScopesSupported", "--scopes",
	"GrantTypesSupported", "--grant-types",
	"MaxClients", "max_clients",
	"Config.Policies", "policies",
)

// explain retells an error of clientreg.New (built from a Config that
// config made) with the flag or the configuration file and member it comes
// from; it never shows a Go identifier such as Config.Policies.
func (src configSource) explain(err error) error {
	msg := strings.TrimPrefix(err.Error(), "clientreg: ")
	file := "--config " + src.file
	issuers := "--trust-issuer"
	if src.fileIssuers {
		issuers = file + ": trusted_issuers"
	}
	if noNameErrRE.MatchString(msg) {
		msg = file + ": policies: a policy has an empty name"
	} else if m := policyErrRE.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("%s: policies.%s: %s", file, m[1], goNames.Replace(m[2]))
	} else if m := defaultPolicyErrRE.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("%s: default_policy: %s is not defined under policies", file, m[1])
	} else if m := issuerPolicyErrRE.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("%s: issuer %s: policy %s is not defined under policies", issuers, m[1], m[2])
	} else if rest, ok := strings.CutPrefix(msg, "Config.TrustedIssuers: "); ok {
		msg = issuers + ": " + goNames.Replace(rest)
	} else {
		msg = goNames.Replace(msg)
	}
	return &explainedError{msg: msg, err: err}
}

// accessTokenFormat is the AccessTokenFormat of --access-token-format,
// whose choices are opaque and jwt.
func accessTokenFormat(v string) clientreg.AccessTokenFormat {
	if v == "jwt" {
		return clientreg.TokenFormatJWT
	}
	return clientreg.TokenFormatOpaque
}
