package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
)

// queryPlan returns the lines of SQLite's plan of q with args.
func queryPlan(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.writer.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// TestAdminQueryPlans checks that the statements of the operator's tools
// search indexes; that the token's INSERT reads indexes only; that the
// query of ListClients on the primary key, whatever its filters, walks it
// in ID order from the cursor, neither scanning the table nor sorting, so
// that a page costs what it reads, not what the table holds; and that its
// queries on the indexes of policies and origins search those, and the
// counts that choose them read nothing else.
func TestAdminQueryPlans(t *testing.T) {
	s := testStore(t)
	for name, tc := range map[string]struct {
		q     string
		nargs int
	}{
		"queryEnableClient":        {queryEnableClient, 1},
		"queryDisableClient":       {queryDisableClient, 2},
		"queryDeleteClientCodes":   {queryDeleteClientCodes, 1},
		"queryDeleteClientTokens":  {queryDeleteClientTokens, 1},
		"queryDeleteClientRefresh": {queryDeleteClientRefresh, 1},
		"queryDeleteClientGrants":  {queryDeleteClientGrants, 1},
		"queryDeleteInitialToken":  {queryDeleteInitialToken, 1},
	} {
		args := make([]any, tc.nargs)
		for i := range args {
			args[i] = fmt.Sprint(i)
		}
		if plan := queryPlan(t, s, tc.q, args...); strings.Contains(plan, "SCAN ") {
			t.Errorf("%s: plan scans a table:\n%s", name, plan)
		}
	}

	// The token's INSERT reads no row of clients: the primary key index
	// finds the client, the partial index of disabled clients the absence
	// of its disabling.
	if plan := queryPlan(t, s, queryInsertAccessToken, "1", "2", "3", "4", "5", "6", "7", "8"); !strings.Contains(plan, "SEARCH c USING COVERING INDEX sqlite_autoindex_clients_1 (id=?)") ||
		!strings.Contains(plan, "SEARCH d USING INDEX clients_disabled (id=?)") || strings.Contains(plan, "SCAN ") {
		t.Errorf("queryInsertAccessToken: plan reads the client's row:\n%s", plan)
	}

	every := store.ClientQuery{
		Policies: []string{"gold", "silver"}, Origins: []string{store.OriginAnonymous, store.OriginOperator},
		IssuedAfter: time.Unix(1, 0), IssuedBefore: time.Unix(2, 0), NeverUsed: true, AfterID: "a", Limit: 10,
	}
	for name, q := range map[string]store.ClientQuery{
		"no filter":     {Limit: 10},
		"policies":      {Policies: []string{"gold"}, Limit: 10},
		"origins":       {Origins: []string{store.OriginAnonymous}, Limit: 10},
		"origin, never": {Origins: []string{store.OriginAnonymous}, NeverUsed: true, Limit: 10},
		"issued":        {IssuedAfter: time.Unix(1, 0), IssuedBefore: time.Unix(2, 0), Limit: 10},
		"every filter":  every,
	} {
		query, args := listClientsQuery(q, "")
		plan := queryPlan(t, s, query, args...)
		// The sibling hashes' subquery searches its own index (and sorts
		// them); the main loop is the first line.
		first, _, _ := strings.Cut(plan, "\n")
		if !strings.Contains(first, "SEARCH clients USING INDEX sqlite_autoindex_clients_1 (id>?)") ||
			strings.Contains(plan, "TEMP B-TREE FOR ORDER BY") || strings.Contains(plan, "SCAN clients") {
			t.Errorf("ListClients with %s, on the primary key: plan does not walk it from the cursor:\n%s", name, plan)
		}
	}
	for index, want := range map[string]string{
		indexPolicy: "SEARCH clients USING INDEX clients_policy (policy=?)",
		indexOrigin: "SEARCH clients USING INDEX clients_origin_last_used (origin=? AND last_used_at=? AND issued_at>? AND issued_at<?)",
	} {
		query, args := listClientsQuery(every, index)
		if plan := queryPlan(t, s, query, args...); !strings.Contains(plan, want) || strings.Contains(plan, "SCAN clients") {
			t.Errorf("ListClients on %s: plan does not search it:\n%s", index, plan)
		}
		// Without origins, the query reads the whole index, and the
		// table only for the clients it selects.
		if index == indexOrigin {
			q := store.ClientQuery{NeverUsed: true, IssuedBefore: time.Unix(1, 0), Limit: 10}
			query, args := listClientsQuery(q, index)
			if plan := queryPlan(t, s, query, args...); !strings.Contains(plan, "SCAN clients USING INDEX "+index) {
				t.Errorf("ListClients on %s without origins: plan does not scan it:\n%s", index, plan)
			}
		}
		var l listQuery
		l.indexConditions(every, index)
		count := `SELECT COUNT(*) FROM (SELECT 1 FROM clients INDEXED BY ` + index + ` WHERE ` + strings.Join(l.where, " AND ") + ` LIMIT ?)`
		if plan := queryPlan(t, s, count, append(l.args, 1)...); !strings.Contains(plan, "COVERING INDEX "+index) {
			t.Errorf("the count of %s reads the table:\n%s", index, plan)
		}
	}
}

// TestListIndex checks the choice of ListClients: an index of policies or
// origins while it finds fewer than listIndexThreshold clients, the one
// that finds fewer, and the primary key once both find more; and that
// every way of reading returns the same clients.
func TestListIndex(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	// listIndexThreshold clients of policy "common" and origin anonymous,
	// half of them never used, and a few of policy "rare" and origin
	// operator.
	if _, err := s.writer.ExecContext(ctx, `WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < ?1 + 19)
INSERT INTO clients (id, issued_at, updated_at, revision, metadata, token_hash, policy, origin, last_used_at)
SELECT printf('c%05d', (i * 7919) % (?1 + 20)), i, i, 1, CAST('{}' AS BLOB), randomblob(32),
	CASE WHEN i < 20 THEN 'rare' ELSE 'common' END,
	CASE WHEN i < 10 THEN 'operator' WHEN i < 20 THEN '' ELSE 'anonymous' END,
	CASE WHEN i % 2 = 0 THEN NULL ELSE i END
FROM k`, listIndexThreshold); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    store.ClientQuery
		want string
	}{
		{store.ClientQuery{}, ""},
		{store.ClientQuery{Policies: []string{"rare"}}, indexPolicy},
		{store.ClientQuery{Policies: []string{"rare", ""}}, ""},
		{store.ClientQuery{Policies: []string{"common"}}, ""},
		{store.ClientQuery{Origins: []string{store.OriginOperator}}, indexOrigin},
		{store.ClientQuery{Origins: []string{store.OriginAnonymous}}, ""},
		{store.ClientQuery{Origins: []string{store.OriginAnonymous}, IssuedAfter: time.UnixMicro(listIndexThreshold)}, indexOrigin},
		{store.ClientQuery{Origins: []string{store.OriginAnonymous}, NeverUsed: true}, indexOrigin},
		{store.ClientQuery{Policies: []string{"rare"}, Origins: []string{store.OriginOperator, store.OriginAnonymous}}, indexPolicy},
		{store.ClientQuery{Policies: []string{"common", "rare"}, Origins: []string{store.OriginOperator}}, indexOrigin},
		{store.ClientQuery{Policies: []string{}}, ""},
		{store.ClientQuery{IssuedBefore: time.UnixMicro(10)}, indexOrigin},
		{store.ClientQuery{IssuedBefore: time.UnixMicro(listIndexThreshold + 1)}, ""},
		{store.ClientQuery{NeverUsed: true}, indexOrigin}, // half of them
		{store.ClientQuery{NeverUsed: true, IssuedAfter: time.UnixMicro(listIndexThreshold)}, indexOrigin},
	} {
		q := tc.q
		q.Limit = 7
		index, err := s.listIndex(ctx, q)
		if err != nil || index != tc.want {
			t.Errorf("listIndex(%+v) = %q, %v; want %q", q, index, err, tc.want)
		}
		all, err := s.listClients(ctx, q, "")
		if err != nil {
			t.Fatal(err)
		}
		if empty := tc.q.Policies != nil && len(tc.q.Policies) == 0; (len(all) == 0) != empty {
			t.Errorf("ListClients(%+v) selects %d clients", q, len(all))
		}
		for _, index := range []string{indexPolicy, indexOrigin} {
			var l listQuery
			if !l.indexConditions(q, index) {
				continue
			}
			for _, after := range []string{"", "c00500", "c09999"} {
				q.AfterID = after
				want, err := s.listClients(ctx, q, "")
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.listClients(ctx, q, index)
				if err != nil || !slices.EqualFunc(got, want, func(a, b *store.Client) bool { return a.ID == b.ID }) {
					t.Errorf("listClients(%+v) on %s = %d clients, %v; on the primary key %d", q, index, len(got), err, len(want))
				}
			}
		}
	}
}

// BenchmarkListClientsMillion lists pages of 100 clients among a million
// (inserted outside the timer, in one statement; their IDs in another
// order than their rows): with filters that select many clients (the walk
// of the primary key finds a page at once), with a policy and an origin
// that ten clients have (read through their indexes), and with a range of
// IssuedAt that ten clients are in (the walk reads the whole table: the
// worst case, once per listing).
func BenchmarkListClientsMillion(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir()+"/million.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	const n = 1_000_000
	if _, err := s.writer.ExecContext(context.Background(), `WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < ?1 - 1)
INSERT INTO clients (id, issued_at, updated_at, revision, metadata, token_hash, policy, origin, last_used_at)
SELECT printf('client-%07d', (i * 7919) % ?1), 1700000000000000 + i * 1000000, 1700000000000000 + i * 1000000, 1,
	CAST('{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"bench"}' AS BLOB), randomblob(32),
	CASE WHEN i % 100000 = 0 THEN 'rare' ELSE '' END,
	CASE WHEN i % 100000 = 1 THEN 'metadata_document' WHEN i % 10 = 0 THEN 'operator' ELSE 'anonymous' END,
	CASE WHEN i % 2 = 0 THEN NULL ELSE 1700000000000000 + i * 1000000 END
FROM k`, n); err != nil {
		b.Fatal(err)
	}
	for name, q := range map[string]store.ClientQuery{
		"first page":         {Limit: 100},
		"middle page":        {AfterID: "client-0500000", Limit: 100},
		"origin, never used": {Origins: []string{store.OriginOperator}, NeverUsed: true, Limit: 100},
		"issued in a range":  {IssuedAfter: time.UnixMicro(1700000000000000 + 400000*1000000), IssuedBefore: time.UnixMicro(1700000000000000 + 600000*1000000), Limit: 100},
		"rare policy":        {Policies: []string{"rare"}, Limit: 100},
		"rare origin":        {Origins: []string{store.OriginMetadataDocument}, Limit: 100},
		"an empty list":      {Policies: []string{}, Limit: 100},
		"narrow range (worst)": {IssuedAfter: time.UnixMicro(1700000000000000 + 400000*1000000),
			IssuedBefore: time.UnixMicro(1700000000000000 + 400010*1000000), Limit: 100},
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				cs, err := s.ListClients(context.Background(), q)
				if err != nil || (len(cs) == 0) != (q.Policies != nil && len(q.Policies) == 0) {
					b.Fatalf("ListClients = %d clients, %v", len(cs), err)
				}
			}
		})
	}
}
