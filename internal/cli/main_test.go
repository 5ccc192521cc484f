package cli

import (
	"context"
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
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// buildTimeout bounds building the clientreg binary.
const buildTimeout = 5 * time.Minute

// binary is the clientreg command built once for the tests that run it as a
// separate process, in a directory TestMain removes.
var binary struct {
	once      sync.Once
	dir, path string
	err       error
}

// clientregBinary builds ../../cmd/clientreg with "go build", once per test
// run, and returns the path of the executable. When the tests run with
// -race, so is the binary built: the packages compiled for the test are then
// reused from the build cache.
func clientregBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			binary.err = fmt.Errorf("the go command is needed to build clientreg: %w", err)
			return
		}
		binary.dir, err = os.MkdirTemp("", "clientreg-test-")
		if err != nil {
			binary.err = err
			return
		}
		exe := filepath.Join(binary.dir, "clientreg")
		if runtime.GOOS == "windows" {
			exe += ".exe"
		}
		args := []string{"build", "-o", exe}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/clientreg/clientreg/cmd/clientreg")
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		start := time.Now()
		out, err := exec.CommandContext(ctx, goTool, args...).CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go %v: %v\n%s", args, err, out)
			return
		}
		binary.path = exe
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "built %s in %v\n", exe, time.Since(start).Round(time.Millisecond))
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}
