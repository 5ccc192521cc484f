package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/sqlite"
)

// Audit events of the server and the operator's commands
// (docs/behaviour.md §14): --audit-log FILE appends them as JSON lines;
// without it they are records of the log.

// readAuditLog reads the JSON lines of path, each an AuditEvent, and
// fails the test for a line that is not one.
func readAuditLog(t *testing.T, path string) ([]clientreg.AuditEvent, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []clientreg.AuditEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var e clientreg.AuditEvent
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("the audit log does not end with a newline: %q", data)
	}
	return evs, data
}

func auditKinds(evs []clientreg.AuditEvent) []clientreg.AuditKind {
	var out []clientreg.AuditKind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// A registration, an update and a deletion through serve --audit-log:
// four events in the file, with the request IDs the responses and the
// access log carry, the file private and free of credentials.
func TestServeAuditLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	s := startServer(t, nil, "--db", filepath.Join(dir, "c.db"), "--audit-log", path)
	header := http.Header{clientreg.RequestIDHeader: {"reg-1"}}
	r := doWith(t, http.MethodPost, s.issuer+"/register", "", clientBody, header)
	wantStatus(t, "register", r, http.StatusCreated)
	if got := r.header.Get(clientreg.RequestIDHeader); got != "reg-1" {
		t.Fatalf("X-Request-Id %q, want reg-1", got)
	}
	id, uri := r.need(t, "client_id"), r.need(t, "registration_client_uri")
	creds := map[string]string{"secret": r.need(t, "client_secret"), "token 0": r.need(t, "registration_access_token")}
	update := fmt.Sprintf(`{"client_id":%q,"client_name":"Renamed","redirect_uris":["http://127.0.0.1:9000/cb"]}`, id)
	wantStatus(t, "bad token", do(t, http.MethodPut, uri, "wrong", update), http.StatusUnauthorized)
	r = do(t, http.MethodPut, uri, creds["token 0"], update)
	wantStatus(t, "update", r, http.StatusOK)
	updateID := r.header.Get(clientreg.RequestIDHeader)
	creds["token 1"] = r.need(t, "registration_access_token")
	wantStatus(t, "delete", doWith(t, http.MethodDelete, uri, creds["token 1"], "", http.Header{clientreg.RequestIDHeader: {"del-1"}}), http.StatusNoContent)
	s.stop(t)

	evs, data := readAuditLog(t, path)
	want := []clientreg.AuditKind{clientreg.AuditClientRegistered, clientreg.AuditClientUpdated, clientreg.AuditRegistrationTokenRotated, clientreg.AuditClientDeleted}
	if got := auditKinds(evs); !slices.Equal(got, want) {
		t.Fatalf("audit log events %v, want %v:\n%s", got, want, data)
	}
	for i, wantID := range []string{"reg-1", updateID, updateID, "del-1"} {
		if e := evs[i]; e.RequestID != wantID || e.ClientID != id || !strings.HasPrefix(e.RemoteAddr, "127.0.0.1:") || e.Time.IsZero() {
			t.Errorf("event %d: %+v, want request_id %s", i, e, wantID)
		}
	}
	if evs[0].Actor.Kind != clientreg.ActorAnonymous || evs[3].Actor != (clientreg.AuditActor{Kind: clientreg.ActorClient, ID: id}) {
		t.Errorf("actors %+v, %+v", evs[0].Actor, evs[3].Actor)
	}
	if ch := evs[1].Changes; len(ch) != 1 || ch[0].Member != "client_name" || string(ch[0].Before) != `"Test"` || string(ch[0].After) != `"Renamed"` {
		t.Errorf("changes %s", mustMarshal(t, ch))
	}
	if leak := testutil.FindCredential(data, creds); leak != "" {
		t.Errorf("the audit log holds %s", leak)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v, %v; want 0600", fi.Mode(), err)
	}
	// The events went to the file, not to the log; the access log has
	// each request's ID.
	logs := s.stderr.String()
	if strings.Contains(logs, "msg=audit") {
		t.Errorf("events logged although --audit-log is set:\n%s", logs)
	}
	for _, id := range []string{"reg-1", updateID, "del-1"} {
		if !strings.Contains(logs, "request_id="+id) {
			t.Errorf("the access log lacks request_id=%s:\n%s", id, logs)
		}
	}

	// A second server appends to the file.
	s = startServer(t, nil, "--db", filepath.Join(dir, "c.db"), "--audit-log", path)
	register(t, s.issuer, "")
	s.stop(t)
	if evs, data := readAuditLog(t, path); len(evs) != 5 || evs[4].Kind != clientreg.AuditClientRegistered {
		t.Fatalf("after a restart:\n%s", data)
	}
}

// Without --audit-log the events are log records, message "audit": one
// JSON line each with --log-format json, with the request's ID that the
// access log names too.
func TestServeAuditInLog(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, nil, "--db", dbIn(t), "--log-format", format)
			r := doWith(t, http.MethodPost, s.issuer+"/register", "", clientBody, http.Header{clientreg.RequestIDHeader: {"log-1"}})
			wantStatus(t, "register", r, http.StatusCreated)
			id, uri, token := r.need(t, "client_id"), r.need(t, "registration_client_uri"), r.need(t, "registration_access_token")
			creds := map[string]string{"secret": r.need(t, "client_secret"), "token": token}
			r = do(t, http.MethodPut, uri, token, fmt.Sprintf(`{"client_id":%q,"redirect_uris":["http://127.0.0.1:9000/cb"]}`, id))
			wantStatus(t, "update", r, http.StatusOK)
			creds["token 1"] = r.need(t, "registration_access_token")
			s.stop(t)
			logs := s.stderr.String()
			if leak := testutil.FindCredential([]byte(logs), creds); leak != "" {
				t.Errorf("the log holds %s", leak)
			}
			if format == "text" {
				for _, want := range []string{
					`msg=audit event=client.registered actor.kind=anonymous client_id=` + id + ` request_id=log-1 remote_addr=127.0.0.1:`,
					`msg=audit event=client.updated actor.kind=client actor.id=` + id + ` client_id=` + id + ` changes="[{\"member\":\"client_name\",\"before\":\"Test\"}]"`,
				} {
					if !strings.Contains(logs, want) {
						t.Errorf("the log lacks %q:\n%s", want, logs)
					}
				}
				return
			}
			var audit, access []map[string]any
			for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					continue // the ready line
				}
				switch m["msg"] {
				case "audit":
					audit = append(audit, m)
				case "request":
					access = append(access, m)
				}
			}
			if len(audit) != 3 || audit[0]["event"] != "client.registered" || audit[0]["request_id"] != "log-1" || audit[0]["client_id"] != id ||
				audit[1]["event"] != "client.updated" || audit[2]["event"] != "registration_token.rotated" {
				t.Fatalf("audit records %v:\n%s", audit, logs)
			}
			if actor, _ := audit[1]["actor"].(map[string]any); actor["kind"] != "client" || actor["id"] != id {
				t.Errorf("actor %v", audit[1]["actor"])
			}
			if ch, _ := audit[1]["changes"].([]any); len(ch) != 1 {
				t.Errorf("changes %v", audit[1]["changes"])
			}
			if len(access) < 2 || access[0]["request_id"] != "log-1" || access[1]["request_id"] != audit[1]["request_id"] {
				t.Errorf("access log %v, audit %v", access, audit)
			}
		})
	}
}

// iat create and clients purge record what they change, with the operator
// of --operator or $USER.
func TestOperatorCommandsAudit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, path := filepath.Join(dir, "c.db"), filepath.Join(dir, "audit.jsonl")
	code, out, stderr := run(t, nil, "iat", "create", "--db", db, "--create-db", "--audit-log", path, "--operator", "alice", "--uses", "3")
	if code != ExitOK {
		t.Fatalf("iat create: %s", stderr)
	}
	iat1 := strings.TrimSpace(out)
	code, out, stderr = run(t, map[string]string{"USER": "bob"}, "iat", "create", "--db", db, "--audit-log", path)
	if code != ExitOK {
		t.Fatalf("iat create: %s", stderr)
	}
	iat2 := strings.TrimSpace(out)
	// Without --audit-log: a log record on stderr.
	code, out, stderr = run(t, map[string]string{"USER": "carol"}, "iat", "create", "--db", db)
	if code != ExitOK || !regexp.MustCompile(`level=INFO msg=audit event=initial_token.created actor.kind=operator actor.id=carol initial_token_id=[0-9a-f]{16}\n`).MatchString(stderr) {
		t.Fatalf("iat create without --audit-log: exit %d, stderr:\n%s", code, stderr)
	}
	iat3 := strings.TrimSpace(out)

	ctx := context.Background()
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, oldClient("old", 8*24*time.Hour), store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if code, _, stderr := run(t, nil, "clients", "purge", "--db", db, "--audit-log", path, "--dry-run"); code != ExitOK {
		t.Fatalf("purge --dry-run: %s", stderr)
	}
	if code, out, stderr := run(t, map[string]string{"CLIENTREG_OPERATOR": "dave"}, "clients", "purge", "--db", db, "--audit-log", path); code != ExitOK || !strings.HasSuffix(out, "removed 1 clients\n") {
		t.Fatalf("purge: %s %s", out, stderr)
	}

	evs, data := readAuditLog(t, path)
	want := []clientreg.AuditKind{clientreg.AuditInitialTokenCreated, clientreg.AuditInitialTokenCreated, clientreg.AuditClientPurged}
	if got := auditKinds(evs); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v:\n%s", got, want, data)
	}
	hexID := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for i, name := range []string{"alice", "bob", "dave"} {
		if evs[i].Actor != (clientreg.AuditActor{Kind: clientreg.ActorOperator, ID: name}) || evs[i].RequestID != "" {
			t.Errorf("event %d: %+v, want the operator %s", i, evs[i], name)
		}
	}
	if !hexID.MatchString(evs[0].InitialTokenID) || !hexID.MatchString(evs[1].InitialTokenID) || evs[0].InitialTokenID == evs[1].InitialTokenID {
		t.Errorf("initial token ids %q, %q", evs[0].InitialTokenID, evs[1].InitialTokenID)
	}
	if evs[2].ClientID != "old" || evs[2].Reason != "unused" {
		t.Errorf("purge event %+v", evs[2])
	}
	if leak := testutil.FindCredential(data, map[string]string{"iat 1": iat1, "iat 2": iat2, "iat 3": iat3}); leak != "" {
		t.Errorf("the audit log holds %s", leak)
	}
	if code, _, stderr := run(t, nil, "iat", "create", "--db", db, "--audit-log", "-"); code != ExitError || !strings.Contains(stderr, "/dev/stdout") {
		t.Errorf(`--audit-log -: exit %d: %s`, code, stderr)
	}
}

// The file sink writes each event whole, however many goroutines and
// sinks append to one file.
func TestAuditFileConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	var logs syncBuffer
	log := newLogger("text", &logs)
	const sinks, writers, each = 2, 4, 50
	var wg sync.WaitGroup
	var closers []func() error
	for s := range sinks {
		sink, closeSink, err := openAuditSink(path, log)
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, closeSink)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					sink.Audit(context.Background(), clientreg.AuditEvent{Kind: clientreg.AuditClientUpdated,
						ClientID: fmt.Sprintf("c-%d-%d-%d", s, w, i), Changes: []clientreg.MemberChange{{Member: "client_name", After: json.RawMessage(`"` + strings.Repeat("x", 4096) + `"`)}}})
				}
			})
		}
	}
	wg.Wait()
	for _, c := range closers {
		if err := c(); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := readAuditLog(t, path)
	if len(evs) != sinks*writers*each {
		t.Fatalf("%d events, want %d", len(evs), sinks*writers*each)
	}
	if logs.String() != "" {
		t.Errorf("the sink logged: %s", logs.String())
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
