package cli

// TEMPORARY (replaced by internal/cli/audit.go of the branch wt-audit when
// it is merged): openAuditSink and the --audit-log and --operator flags,
// enough for the operator's commands to be written and tested against.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/clientreg/clientreg"
)

func openAuditSink(path string, logger *slog.Logger) (clientreg.AuditSink, func() error, error) {
	if path == "" {
		return clientreg.AuditFunc(func(ctx context.Context, e clientreg.AuditEvent) {
			logger.InfoContext(ctx, "audit", "event", string(e.Kind), "client_id", e.ClientID)
		}), func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open the audit log: %w", err)
	}
	var mu sync.Mutex
	return clientreg.AuditFunc(func(ctx context.Context, e clientreg.AuditEvent) {
		b, _ := json.Marshal(e)
		mu.Lock()
		defer mu.Unlock()
		f.Write(append(b, '\n'))
	}), f.Close, nil
}

type operatorFlags struct {
	auditLog, operator *string
}

func addOperatorFlags(fs *flagSet) operatorFlags {
	return operatorFlags{
		auditLog: fs.String("audit-log", "", "append the audit events to this `file`"),
		operator: fs.String("operator", "", "the operator's `name` in the audit events (default: $USER)"),
	}
}

func (of operatorFlags) context(ctx context.Context, getenv func(string) string) context.Context {
	name := *of.operator
	if name == "" {
		name = getenv("USER")
	}
	return clientreg.WithOperator(ctx, name)
}
