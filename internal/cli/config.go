package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clientreg/clientreg"
)

// The configuration file (--config FILE) holds what does not fit in flags:
// the named registration policies and the trusted software statement
// issuers with their policies. It is YAML, the format of the configuration
// files of the servers our users already run (Hydra, dex, Kubernetes), and
// it allows comments, which an operator's policy file needs. It is read
// with go.yaml.in/yaml/v3, the YAML organisation's maintained continuation
// of gopkg.in/yaml.v3, in strict mode: an unknown key, a wrong type or a
// second document is an error, never silently ignored.

// fileConfig is the configuration file's schema.
type fileConfig struct {
	// DefaultPolicy names the policy for registrations that neither their
	// initial access token nor their software statement assigns one.
	DefaultPolicy string `yaml:"default_policy"`
	// Policies are the registration policies by name.
	Policies map[string]filePolicy `yaml:"policies"`
	// TrustedIssuers are the software statement issuers to trust.
	TrustedIssuers []fileIssuer `yaml:"trusted_issuers"`
}

// filePolicy is one registration policy; see clientreg.Policy.
type filePolicy struct {
	AllowedScopes          []string `yaml:"allowed_scopes"`
	DefaultScopes          []string `yaml:"default_scopes"`
	AllowedGrantTypes      []string `yaml:"allowed_grant_types"`
	AllowedAuthMethods     []string `yaml:"allowed_auth_methods"`
	RedirectPreset         string   `yaml:"redirect_preset"`
	AllowedRedirectHosts   []string `yaml:"allowed_redirect_hosts"`
	AllowedRedirectSchemes []string `yaml:"allowed_redirect_schemes"`
	SameHostURIs           bool     `yaml:"same_host_uris"`
	MaxClients             int64    `yaml:"max_clients"`
}

// fileIssuer is one trusted issuer; see clientreg.TrustedIssuer.
type fileIssuer struct {
	Issuer string `yaml:"issuer"`
	// KeysFile is a PEM public key or a JWK Set file, relative to the
	// configuration file's directory.
	KeysFile   string   `yaml:"keys_file"`
	JWKSURI    string   `yaml:"jwks_uri"`
	Algorithms []string `yaml:"algorithms"`
	Policy     string   `yaml:"policy"`
}

// loadedConfig is the configuration file in the library's terms.
type loadedConfig struct {
	defaultPolicy string
	policies      []clientreg.Policy
	issuers       []clientreg.TrustedIssuer
}

// maxConfigBytes bounds the configuration file.
const maxConfigBytes = 1 << 20

// loadConfig reads the configuration file at path; "" gives an empty
// configuration. Errors name the file and, where YAML knows it, the line.
func loadConfig(path string) (*loadedConfig, error) {
	if path == "" {
		return &loadedConfig{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("--config %s: larger than %d bytes", path, maxConfigBytes)
	}
	lc, err := parseConfig(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	return lc, nil
}

// parseConfig decodes a configuration file strictly; dir resolves the
// relative key file paths.
func parseConfig(data []byte, dir string) (*loadedConfig, error) {
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("the file must hold one YAML document")
	}
	lc := &loadedConfig{defaultPolicy: fc.DefaultPolicy}
	names := make([]string, 0, len(fc.Policies))
	for name := range fc.Policies {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fp := fc.Policies[name]
		switch {
		case name == "":
			return nil, errors.New("policies: a policy has an empty name")
		case fp.MaxClients < 0:
			return nil, fmt.Errorf("policies.%s.max_clients: must not be negative", name)
		}
		switch clientreg.RedirectPreset(fp.RedirectPreset) {
		case "", clientreg.PresetMCP, clientreg.PresetWeb, clientreg.PresetNative:
		default:
			return nil, fmt.Errorf("policies.%s.redirect_preset: %q is not mcp, web or native", name, fp.RedirectPreset)
		}
		lc.policies = append(lc.policies, clientreg.Policy{
			Name:                   name,
			AllowedScopes:          fp.AllowedScopes,
			DefaultScopes:          fp.DefaultScopes,
			AllowedGrantTypes:      fp.AllowedGrantTypes,
			AllowedAuthMethods:     fp.AllowedAuthMethods,
			RedirectPreset:         clientreg.RedirectPreset(fp.RedirectPreset),
			AllowedRedirectHosts:   fp.AllowedRedirectHosts,
			AllowedRedirectSchemes: fp.AllowedRedirectSchemes,
			SameHostURIs:           fp.SameHostURIs,
			MaxClients:             fp.MaxClients,
		})
	}
	if fc.DefaultPolicy != "" && !slices.Contains(names, fc.DefaultPolicy) {
		return nil, fmt.Errorf("default_policy: %q is not defined under policies", fc.DefaultPolicy)
	}
	for i, fi := range fc.TrustedIssuers {
		if fi.Issuer == "" {
			return nil, fmt.Errorf("trusted_issuers[%d]: issuer is required", i)
		}
		if fi.Policy != "" && !slices.Contains(names, fi.Policy) {
			return nil, fmt.Errorf("trusted_issuers[%d] (%s): policy %q is not defined under policies", i, fi.Issuer, fi.Policy)
		}
		ti := clientreg.TrustedIssuer{Issuer: fi.Issuer, JWKSURI: fi.JWKSURI, Algorithms: fi.Algorithms, Policy: fi.Policy}
		switch {
		case fi.KeysFile != "" && fi.JWKSURI != "":
			return nil, fmt.Errorf("trusted_issuers[%d] (%s): set keys_file or jwks_uri, not both", i, fi.Issuer)
		case fi.KeysFile != "":
			p := fi.KeysFile
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("trusted_issuers[%d] (%s): %w", i, fi.Issuer, err)
			}
			keys, err := clientreg.ParsePublicKeys(data)
			if err != nil {
				return nil, fmt.Errorf("trusted_issuers[%d] (%s): %w", i, fi.Issuer, err)
			}
			ti.Keys = keys
		case fi.JWKSURI == "":
			return nil, fmt.Errorf("trusted_issuers[%d] (%s): keys_file or jwks_uri is required", i, fi.Issuer)
		case !strings.HasPrefix(fi.JWKSURI, "https://"):
			return nil, fmt.Errorf("trusted_issuers[%d] (%s): jwks_uri must be an https URL", i, fi.Issuer)
		}
		lc.issuers = append(lc.issuers, ti)
	}
	return lc, nil
}

// yamlTypes names, for the errors of the YAML decoder, the Go types of
// fileConfig's fields by what the file must hold there.
var yamlTypes = strings.NewReplacer(
	"map[string]cli.filePolicy", "a mapping of policy names to policies",
	"[]cli.fileIssuer", "a list of trusted issuers",
	"cli.filePolicy", "a policy (a mapping)",
	"cli.fileIssuer", "a trusted issuer (a mapping)",
	"cli.fileConfig", "the configuration (a mapping)",
	"[]string", "a list of strings",
	"int64", "an integer",
	"bool", "true or false",
	"string", "a string",
)

// yamlFieldRE matches the decoder's report of an unknown key.
var yamlFieldRE = regexp.MustCompile(`field (\S+) not found in type \S+`)

// yamlError retells an error of the YAML decoder without the Go names of
// fileConfig's types: "line 3: field allowed_scope not found in type
// cli.filePolicy" becomes "line 3: unknown key allowed_scope".
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		m = yamlFieldRE.ReplaceAllString(m, "unknown key $1")
		if before, typ, ok := strings.Cut(m, " into "); ok {
			m = before + ", want " + yamlTypes.Replace(typ)
		}
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}
