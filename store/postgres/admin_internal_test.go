package postgres

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/postgres/pgtest"
)

// TestIDCursor checks idCursor against the byte order it stands for: for
// cursors that PostgreSQL cannot store (NUL, invalid UTF-8, truncated
// runes, bytes above every rune's first), the bound selects exactly the
// storable IDs that sort after the cursor.
func TestIDCursor(t *testing.T) {
	// Storable IDs around the edges of UTF-8: one- to four-byte runes,
	// the runes beside the surrogates, the last rune, and prefixes.
	runes := []rune{1, 'a', 'b', 0x7f, 0x80, 0xe9, 0x7ff, 0x800, 0x20ac, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10fffe, utf8.MaxRune}
	ids := []string{""}
	for _, r := range runes {
		ids = append(ids, string(r), "a"+string(r), string(r)+"a", string(r)+string(utf8.MaxRune))
		for _, r2 := range runes {
			ids = append(ids, string(r)+string(r2))
		}
	}
	var cursors []string
	for _, id := range ids {
		for _, bad := range []string{"\x00", "\xff", "\xf5", "\x80", "\xc0", "\xc3", "\xe2\x82", "\xe2\x28", "\xed\xa0\x80",
			"\xf0\x8f", "\xf4\x90", "\xf4\x8f\xbf", "\xf4\x8f\xbf\xc0", "\xef\xbf", "\x00a"} {
			cursors = append(cursors, id+bad, id+bad+"z")
		}
	}
	for _, after := range cursors {
		bound, inclusive, none := idCursor(after)
		if !none && !storableID(bound) {
			t.Fatalf("idCursor(%+q) = %+q, which is not storable", after, bound)
		}
		for _, id := range ids {
			want := id > after
			var got bool
			switch {
			case none:
			case inclusive:
				got = id >= bound
			default:
				got = id > bound
			}
			if got != want {
				t.Fatalf("idCursor(%+q) = %+q, inclusive %v, none %v: selects %+q: %v, want %v", after, bound, inclusive, none, id, got, want)
			}
		}
	}
	for _, after := range []string{"", "a", "日本"} {
		if bound, inclusive, none := idCursor(after); bound != after || inclusive || none {
			t.Errorf("idCursor(%q) = %q, %v, %v; want itself", after, bound, inclusive, none)
		}
	}
}

// BenchmarkListClientsMillion lists pages of 100 clients among a million
// (inserted outside the timer, in one statement, and analyzed), with the
// filters of the SQLite store's benchmark of the same name. It runs with
// CLIENTREG_TEST_POSTGRES, like the tests.
func BenchmarkListClientsMillion(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.DSN(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	const t0 = 1700000000
	if _, err := s.pool.Exec(ctx, `INSERT INTO clients (id, issued_at, updated_at, revision, metadata, token_hash, policy, origin, last_used_at)
SELECT format('client-%s', lpad(((i::bigint * 7919) % 1000000)::text, 7, '0')), to_timestamp($1 + i), to_timestamp($1 + i), 1,
	convert_to('{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"bench"}', 'UTF8'), sha256(int8send(i)),
	CASE WHEN i % 100000 = 0 THEN 'rare' ELSE '' END,
	CASE WHEN i % 100000 = 1 THEN 'metadata_document' WHEN i % 10 = 0 THEN 'operator' ELSE 'anonymous' END,
	CASE WHEN i % 2 = 0 THEN NULL ELSE to_timestamp($1 + i) END
FROM generate_series(0, 999999) AS i`, t0); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE clients`); err != nil {
		b.Fatal(err)
	}
	for name, q := range map[string]store.ClientQuery{
		"first page":           {Limit: 100},
		"middle page":          {AfterID: "client-0500000", Limit: 100},
		"origin, never used":   {Origins: []string{store.OriginOperator}, NeverUsed: true, Limit: 100},
		"issued in a range":    {IssuedAfter: time.Unix(t0+400000, 0), IssuedBefore: time.Unix(t0+600000, 0), Limit: 100},
		"rare policy":          {Policies: []string{"rare"}, Limit: 100},
		"rare origin":          {Origins: []string{store.OriginMetadataDocument}, Limit: 100},
		"an empty list":        {Policies: []string{}, Limit: 100},
		"narrow range (worst)": {IssuedAfter: time.Unix(t0+400000, 0), IssuedBefore: time.Unix(t0+400010, 0), Limit: 100},
	} {
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			for b.Loop() {
				cs, err := s.ListClients(ctx, q)
				if err != nil || (len(cs) == 0) != (q.Policies != nil && len(q.Policies) == 0) {
					b.Fatalf("ListClients = %d clients, %v", len(cs), err)
				}
			}
		})
	}
}
