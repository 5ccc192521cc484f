// Command profile records a CPU profile of the clientreg server per phase of
// a clientreg-bench run, without adding anything to the server: it runs
// "clientreg serve" in its own process, exactly as cmd/clientreg does (SQLite
// on a fresh database in a temporary directory, access log included), and
// drives it with the clientreg-bench command in a child process, so that the
// profiles hold the server's work only. A new profile starts each time
// clientreg-bench reports a phase done.
//
// From the repository root:
//
//	go run ./tools/perf/profile                  # perf-results/profile/PHASE.pprof
//	go tool pprof -top perf-results/profile/update.pprof
//	python3 tools/perf/breakdown.py perf-results/profile/*.pprof
//
// The server listens on 127.0.0.1 only, and stops when the load ends.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clientreg/clientreg/internal/bench"
	"github.com/clientreg/clientreg/internal/cli"
)

func main() {
	out := flag.String("out", filepath.Join("perf-results", "profile"), "`directory` for the profiles (PHASE.pprof) and the run's report")
	benchBin := flag.String("bench", "", "clientreg-bench `binary` (default: built from ./cmd/clientreg-bench)")
	c := flag.Int("c", bench.DefaultConcurrency, "concurrent clients")
	n := flag.Int("n", bench.DefaultRequests, "requests per phase")
	d := flag.Duration("d", bench.DefaultDuration, "time bound per phase")
	phases := flag.String("phases", strings.Join(bench.RegistrationPhases, ","), "the `phases` to profile, in order (the token phases sign in with --login header, as tools/perf/run.sh measures them)")
	flag.Parse()
	if err := run(*out, *benchBin, *c, *n, *d, strings.Split(*phases, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(1)
	}
}

// listenWriter receives the server's stderr: it copies everything to a log
// file and reports the issuer of the "listening on ISSUER" line.
type listenWriter struct {
	mu     sync.Mutex
	log    io.Writer
	issuer chan string
	seen   bool
}

func (w *listenWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rest, ok := bytes.CutPrefix(p, []byte("listening on ")); ok && !w.seen {
		w.seen = true
		// "listening on URL", then " (issuer ISSUER)" when they differ.
		url, _, _ := strings.Cut(strings.TrimSpace(string(rest)), " ")
		w.issuer <- url
	}
	return w.log.Write(p)
}

func run(out, benchBin string, c, n int, d time.Duration, phases []string) error {
	// The token phases sign in as tools/perf/run.sh's do: the load tool
	// sends the user's header, which serve trusts from loopback, and the
	// consent page is shown every time.
	var serveFlags, benchFlags []string
	for _, p := range phases {
		if slices.Contains(bench.TokenPhases, p) {
			serveFlags = []string{"--login", "header", "--login-header", "X-Forwarded-User", "--trusted-proxy", "127.0.0.1/32", "--consent-ttl", "0"}
			benchFlags = []string{"-login-header", "X-Forwarded-User", "-scope", "read", "-resource", "https://mcp.example/"}
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "clientreg-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if benchBin == "" {
		benchBin = filepath.Join(tmp, "clientreg-bench")
		build := exec.Command("go", "build", "-o", benchBin, "./cmd/clientreg-bench")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building clientreg-bench: %w", err)
		}
	}

	logFile, err := os.Create(filepath.Join(tmp, "server.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Minute)
	defer stop()
	lw := &listenWriter{log: logFile, issuer: make(chan string, 1)}
	served := make(chan int, 1)
	noEnv := func(string) string { return "" }
	go func() {
		// The registration rate limits (on by default) would answer most
		// of a load from one address with 429.
		served <- cli.Main(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(tmp, "bench.db"),
			"--rate-limits=false"}, serveFlags...), io.Discard, lw, noEnv)
	}()
	var issuer string
	select {
	case issuer = <-lw.issuer:
	case code := <-served:
		return fmt.Errorf("clientreg serve exited with %d", code)
	case <-time.After(30 * time.Second):
		return errors.New("clientreg serve did not start")
	}
	fmt.Fprintf(os.Stderr, "profile: server at %s\n", issuer)

	startProfile := func(i int) (*os.File, error) {
		f, err := os.Create(filepath.Join(out, phases[i]+".pprof"))
		if err != nil {
			return nil, err
		}
		return f, pprof.StartCPUProfile(f)
	}
	cur, err := startProfile(0)
	if err != nil {
		return err
	}
	load := exec.CommandContext(ctx, benchBin, append([]string{"-base", issuer, "-c", fmt.Sprint(c), "-n", fmt.Sprint(n),
		"-d", d.String(), "-label", "clientreg-profile", "-o", filepath.Join(out, "report.json"),
		"-phases", strings.Join(phases, ",")}, benchFlags...)...)
	load.Stdout = os.Stdout
	progress, err := load.StderrPipe()
	if err != nil {
		return err
	}
	if err := load.Start(); err != nil {
		return err
	}
	// Each "clientreg-bench: PHASE done" line ends a phase's profile; the
	// next phase's starts at once.
	next := 1
	sc := bufio.NewScanner(progress)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(os.Stderr, line)
		if !strings.HasPrefix(line, "clientreg-bench: ") || !strings.Contains(line, " done: ") {
			continue
		}
		pprof.StopCPUProfile()
		cur.Close()
		cur = nil
		if next < len(phases) {
			if cur, err = startProfile(next); err != nil {
				return err
			}
			next++
		}
	}
	if cur != nil {
		pprof.StopCPUProfile()
		cur.Close()
	}
	loadErr := load.Wait()
	stop()
	if code := <-served; code != 0 {
		return fmt.Errorf("clientreg serve exited with %d", code)
	}
	if loadErr != nil {
		return fmt.Errorf("clientreg-bench: %w", loadErr)
	}
	fmt.Fprintf(os.Stderr, "profile: profiles in %s: go tool pprof -top %s\n", out, filepath.Join(out, "register.pprof"))
	return nil
}
