package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// flagSet is a subcommand's flags with its help text.
type flagSet struct {
	*flag.FlagSet
	usage   string // e.g. "clientreg serve [flags]"
	summary string // paragraph printed by -help
	// positional names the arguments the command takes besides its flags
	// (e.g. "ID"), each required; parse sets values to them, in order.
	positional []string
	values     []string
}

func newFlagSet(name, usage, summary string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Errors are reported by Main and help goes to stdout, so the flag
	// package prints nothing itself.
	fs.SetOutput(io.Discard)
	return &flagSet{FlagSet: fs, usage: usage, summary: summary}
}

// envName returns the environment variable that sets flag name.
func envName(name string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// parse parses args and then, for every flag not given on the command line,
// its environment variable (see envName): a flag on the command line wins
// over the environment. An empty variable counts as unset. -help prints the
// flags to stdout and returns errHelpShown.
func (fs *flagSet) parse(args []string, stdout io.Writer, getenv func(string) string) error {
	hint := fmt.Sprintf("Run %q for usage.", "clientreg "+fs.Name()+" -help")
	// Flags may come before, between and after the positional arguments.
	// An argument that starts with "-" but is no flag of the command (a
	// client ID may start with "-") is taken for the next positional
	// argument while one is missing; after "--", every argument is one.
	for rest := args; ; {
		err := fs.Parse(rest)
		if errors.Is(err, flag.ErrHelp) {
			fs.printHelp(stdout)
			return errHelpShown
		}
		if err != nil && strings.HasPrefix(err.Error(), "flag provided but not defined") && len(fs.values) < len(fs.positional) {
			// The flag package stopped after the unknown argument.
			fs.values = append(fs.values, rest[len(rest)-fs.NArg()-1])
			rest = fs.Args()
			continue
		}
		if err != nil {
			return &usageError{err: fmt.Errorf("%s: %w", fs.Name(), err), hint: hint}
		}
		if fs.NArg() == 0 {
			break
		}
		if len(fs.values) == len(fs.positional) {
			return &usageError{err: fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0)), hint: hint}
		}
		fs.values = append(fs.values, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if n := len(fs.values); n < len(fs.positional) {
		return &usageError{err: fmt.Errorf("%s: missing %s", fs.Name(), fs.positional[n]), hint: hint}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(f.Name)
		v := getenv(env)
		if err != nil || given[f.Name] || v == "" {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = &usageError{err: fmt.Errorf("%s: invalid value %q for environment variable %s: %w", fs.Name(), v, env, serr), hint: hint}
		}
	})
	return err
}

// printHelp writes the usage, the summary and every flag with its
// environment variable and default.
func (fs *flagSet) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", fs.usage, fs.summary)
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if arg != "" {
			fmt.Fprintf(w, " %s", arg)
		}
		fmt.Fprintf(w, "\n    \t%s", strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "\n    \tenvironment: %s\n", envName(f.Name))
	})
	fmt.Fprintf(w, "\nEvery flag can also be set with its environment variable; a flag given\non the command line wins over the environment.\n")
}

// choiceValue is a string flag restricted to a few values.
type choiceValue struct {
	val     *string
	choices []string
}

func newChoice(fs *flagSet, name, def, usage string, choices ...string) *string {
	v := def
	fs.Var(&choiceValue{val: &v, choices: choices}, name, usage)
	return &v
}

func (c *choiceValue) String() string {
	if c.val == nil {
		return ""
	}
	return *c.val
}

func (c *choiceValue) Set(s string) error {
	if !slices.Contains(c.choices, s) {
		return fmt.Errorf("must be %s", strings.Join(c.choices, " or "))
	}
	*c.val = s
	return nil
}

// listValue is a comma-separated list; blanks around items and empty items
// are dropped.
type listValue struct{ val *[]string }

func newList(fs *flagSet, name string, def []string, usage string) *[]string {
	v := def
	fs.Var(listValue{&v}, name, usage)
	return &v
}

func (l listValue) String() string {
	if l.val == nil {
		return ""
	}
	return strings.Join(*l.val, ",")
}

func (l listValue) Set(s string) error {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	*l.val = items
	return nil
}

// durationValue is a non-negative duration.
type durationValue struct{ val *time.Duration }

func newDuration(fs *flagSet, name string, def time.Duration, usage string) *time.Duration {
	v := def
	fs.Var(durationValue{&v}, name, usage)
	return &v
}

func (d durationValue) String() string {
	if d.val == nil {
		return ""
	}
	return d.val.String()
}

func (d durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration (examples: 90s, 10m, 24h)")
	}
	if v < 0 {
		return errors.New("must not be negative")
	}
	*d.val = v
	return nil
}

// countValue is a non-negative integer.
type countValue struct{ val *int64 }

func newCount(fs *flagSet, name string, def int64, usage string) *int64 {
	v := def
	fs.Var(countValue{&v}, name, usage)
	return &v
}

func (c countValue) String() string {
	if c.val == nil {
		return ""
	}
	return strconv.FormatInt(*c.val, 10)
}

func (c countValue) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return errors.New("must be a non-negative integer")
	}
	*c.val = v
	return nil
}

// urlValue is an absolute http(s) URL, or empty.
type urlValue struct{ val *string }

func newURL(fs *flagSet, name, usage string) *string {
	var v string
	fs.Var(urlValue{&v}, name, usage)
	return &v
}

func (u urlValue) String() string {
	if u.val == nil {
		return ""
	}
	return *u.val
}

func (u urlValue) Set(s string) error {
	if s != "" {
		p, err := url.Parse(s)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Fragment != "" {
			return errors.New("must be an absolute http or https URL without fragment")
		}
	}
	*u.val = s
	return nil
}

// appendListValue is a repeatable list flag: each use adds its
// comma-separated items to those of earlier uses.
type appendListValue struct{ val *[]string }

func newAppendList(fs *flagSet, name string, usage string) *[]string {
	var v []string
	fs.Var(appendListValue{&v}, name, usage)
	return &v
}

func (l appendListValue) String() string {
	if l.val == nil {
		return ""
	}
	return strings.Join(*l.val, ",")
}

func (l appendListValue) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l.val = append(*l.val, item)
		}
	}
	return nil
}
