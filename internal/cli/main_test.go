package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" && !testing.Short() {
		// A whole run: build the binaries that the process tests run in
		// the background, while the first tests run, rather than inside
		// the first test that needs them.
		go func() {
			hardBinary.once.Do(func() { buildClientreg(&hardBinary, false) })
			binary.once.Do(func() { buildClientreg(&binary, raceEnabled) })
		}()
	}
	code := m.Run()
	for _, b := range []*builtBinary{&binary, &hardBinary, &mcpExample} {
		b.once.Do(func() {}) // wait for a build in progress
		if b.dir != "" {
			os.RemoveAll(b.dir)
		}
	}
	os.Exit(code)
}

// buildTimeout bounds building the clientreg binary.
const buildTimeout = 5 * time.Minute

// builtBinary is the clientreg command built once for the tests that run
// it as a separate process, in a directory TestMain removes.
type builtBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

// binary is built with -race when the tests are; hardBinary (the hardening
// tests' binary, see hardBuild) without.
var binary, hardBinary builtBinary

// clientregBinary builds ../../cmd/clientreg with "go build", once per test
// run, and returns the path of the executable. When the tests run with
// -race, so is the binary built: the packages compiled for the test are then
// reused from the build cache.
func clientregBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() { buildClientreg(&binary, raceEnabled) })
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// buildClientreg builds cmd/clientreg into b, with -race if race.
func buildClientreg(b *builtBinary, race bool) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		b.err = fmt.Errorf("the go command is needed to build clientreg: %w", err)
		return
	}
	b.dir, err = os.MkdirTemp("", "clientreg-test-")
	if err != nil {
		b.err = err
		return
	}
	exe := filepath.Join(b.dir, "clientreg")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	args := []string{"build", "-o", exe}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "github.com/clientreg/clientreg/cmd/clientreg")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, goTool, args...).CombinedOutput()
	if err != nil {
		b.err = fmt.Errorf("go %v: %v\n%s", args, err, out)
		return
	}
	b.path = exe
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "built %s in %v\n", exe, time.Since(start).Round(time.Millisecond))
	}
}
