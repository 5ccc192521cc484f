package sqlite

import (
	"context"
	"strings"
	"testing"
)

// TestAuthzQueryPlans checks that the statements of the authorization
// records search indexes: none scans a table.
func TestAuthzQueryPlans(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	for name, tc := range map[string]struct {
		q     string
		nargs int
	}{
		"GetGrantByRefreshHash": {`SELECT ` + grantColumns + ` FROM refresh_tokens r JOIN grants ON grants.id = r.grant_id WHERE r.hash = ?`, 1},
		"GetConsent":            {`SELECT scope FROM consents WHERE client_id = ? AND subject = ?`, 2},
		"queryTakePending":      {queryTakePending, 1},
		"queryUseCode":          {queryUseCode, 2},
		"queryGrantForUpdate":   {queryGrantForUpdate, 1},
		"queryUpdateGrant":      {queryUpdateGrant, 14},
		"queryDeleteRefresh":    {queryDeleteRefresh, 2},
		"queryDeleteGrant":      {queryDeleteGrant, 1},
		"expired pending":       {queryDeleteExpiredPending, 1},
		"expired codes":         {queryDeleteExpiredCodes, 1},
		"expired grants":        {queryDeleteExpiredGrants, 1},
		"expired consents":      {queryDeleteExpiredConsents, 1},
		"grant's access tokens": {`DELETE FROM access_tokens WHERE grant_id = ?`, 1},
		"client's grants":       {`DELETE FROM grants WHERE client_id = ?`, 1},
		"client's codes":        {`DELETE FROM authorization_codes WHERE client_id = ?`, 1},
		"client's requests":     {`DELETE FROM pending_authorizations WHERE client_id = ?`, 1},
		"client's consents":     {`DELETE FROM consents WHERE client_id = ?`, 1},
		"grant's refresh rows":  {`DELETE FROM refresh_tokens WHERE grant_id = ?`, 1},
	} {
		args := make([]any, tc.nargs)
		for i := range args {
			args[i] = int64(i)
		}
		rows, err := s.writer.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.q, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
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
		rows.Close()
		if all := strings.Join(plan, "\n"); strings.Contains(all, "SCAN ") {
			t.Errorf("%s: plan scans a table:\n%s", name, all)
		}
	}
}

func TestListEncoding(t *testing.T) {
	for _, l := range [][][]byte{nil, {}, {{}}, {[]byte("a"), {}, make([]byte, 300)}} {
		got, err := decodeList(encodeList(l))
		if err != nil || (got == nil) != (l == nil) || len(got) != len(l) {
			t.Errorf("decodeList(encodeList(%q)) = %q, %v", l, got, err)
			continue
		}
		for i := range l {
			if string(got[i]) != string(l[i]) {
				t.Errorf("element %d: %q, want %q", i, got[i], l[i])
			}
		}
	}
	for _, b := range [][]byte{{2}, {1, 5, 'a'}, {1, 0x80}} {
		if _, err := decodeList(b); err == nil {
			t.Errorf("decodeList(%x) succeeded", b)
		}
	}
}
