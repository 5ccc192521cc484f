package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/clientreg/clientreg"
)

// Audit events (docs/behaviour.md §14): every command that builds a
// Handler hands it the sink of openAuditSink, so that the server and the
// operator's commands record the state changes they make in one way.

// openAuditSink returns the sink of a command's audit events and the
// function that closes it, to call once the Handler is done. With path ""
// each event is a record of logger at level Info, message "audit", the
// event's members as attributes (as in AuditEvent's JSON form, the record's
// time the event's): one JSON line in the server's JSON log format.
// Otherwise each event is appended to the file at path (created with mode
// 0600 when missing) as one JSON line, the JSON form of
// clientreg.AuditEvent, written whole with one write, so that a server and
// the operator's commands may append to the same file at once. A write
// that fails is logged at level Error (without the event's changes) and
// the change stands. "-" is refused: the commands write their results to
// stdout, so give /dev/stdout to mean it.
func openAuditSink(path string, logger *slog.Logger) (clientreg.AuditSink, func() error, error) {
	if path == "" {
		return logAuditSink{logger}, func() error { return nil }, nil
	}
	if path == "-" {
		return nil, nil, errors.New(`--audit-log "-": name a file (for the standard output, /dev/stdout)`)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open the audit log: %w", err)
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("the audit log is readable or writable by group or others; it names every client, user and address that changed something", "audit_log", path, "mode", fi.Mode().Perm().String())
	}
	s := &fileAuditSink{f: f, path: path, log: logger}
	return s, s.close, nil
}

// fileAuditSink appends events to a file as JSON lines.
type fileAuditSink struct {
	mu   sync.Mutex
	f    *os.File
	path string
	log  *slog.Logger
}

func (s *fileAuditSink) Audit(ctx context.Context, e clientreg.AuditEvent) {
	var line bytes.Buffer
	enc := json.NewEncoder(&line) // one line, ended by a newline
	enc.SetEscapeHTML(false)
	err := enc.Encode(e)
	if err == nil {
		s.mu.Lock()
		_, err = s.f.Write(line.Bytes())
		s.mu.Unlock()
	}
	if err != nil {
		s.log.ErrorContext(ctx, "writing an audit event failed", "audit_log", s.path, "event", string(e.Kind),
			"client_id", e.ClientID, "request_id", e.RequestID, "err", err)
	}
}

func (s *fileAuditSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("close the audit log: %w", err)
	}
	return nil
}

// logAuditSink logs events as records of the command's logger.
type logAuditSink struct{ log *slog.Logger }

func (s logAuditSink) Audit(ctx context.Context, e clientreg.AuditEvent) {
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(e.Time, slog.LevelInfo, "audit", 0)
	r.AddAttrs(auditAttrs(e)...)
	_ = h.Handle(ctx, r)
}

// auditAttrs are the members of e's JSON form, but its time, as log
// attributes, empty ones left out: actor is a group (actor.kind and
// actor.id in the text format), changes the JSON array (a quoted string in
// the text format).
func auditAttrs(e clientreg.AuditEvent) []slog.Attr {
	actor := []any{slog.String("kind", e.Actor.Kind)}
	if e.Actor.ID != "" {
		actor = append(actor, slog.String("id", e.Actor.ID))
	}
	attrs := []slog.Attr{slog.String("event", string(e.Kind)), slog.Group("actor", actor...)}
	for _, m := range []struct{ name, v string }{
		{"client_id", e.ClientID}, {"subject", e.Subject}, {"grant_id", e.GrantID},
		{"initial_token_id", e.InitialTokenID}, {"policy", e.Policy},
	} {
		if m.v != "" {
			attrs = append(attrs, slog.String(m.name, m.v))
		}
	}
	if len(e.Changes) > 0 {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if enc.Encode(e.Changes) == nil {
			attrs = append(attrs, slog.Any("changes", json.RawMessage(bytes.TrimSuffix(b.Bytes(), []byte("\n")))))
		}
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if e.Count != 0 {
		attrs = append(attrs, slog.Int64("count", e.Count))
	}
	if e.RequestID != "" {
		attrs = append(attrs, slog.String("request_id", e.RequestID))
	}
	if e.RemoteAddr != "" {
		attrs = append(attrs, slog.String("remote_addr", e.RemoteAddr))
	}
	return attrs
}

// operatorFlags are --audit-log and --operator, the flags of the commands
// that change state as the operator (iat create, clients purge).
type operatorFlags struct {
	auditLog, operator *string
}

func addOperatorFlags(fs *flagSet) operatorFlags {
	return operatorFlags{
		auditLog: fs.String("audit-log", "",
			"append the audit events of what this command changes to this `file`, as JSON\n"+
				"lines (created with mode 0600); default: log them on stderr"),
		operator: fs.String("operator", "",
			"the operator's `name` in the audit events (default: $USER)"),
	}
}

// context returns ctx naming the operator: --operator, else $USER, else "".
func (of operatorFlags) context(ctx context.Context, getenv func(string) string) context.Context {
	name := *of.operator
	if name == "" {
		name = getenv("USER")
	}
	return clientreg.WithOperator(ctx, name)
}
