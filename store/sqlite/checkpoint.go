package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// Checkpoints. In WAL mode a commit appends pages to the -wal file, and a
// checkpoint copies them back into the database file. SQLite runs one by
// default in the connection that commits once the log passes 1,000 pages:
// the writer, which holds every other write of the server behind it while
// it copies pages and syncs the files. Measured, that was the bulk of the
// writes' p99 latency (see docs/performance.md).
//
// The Store moves that work off the write path. A checkpointer goroutine,
// on a connection of its own, runs a PASSIVE checkpoint (which neither
// waits for nor blocks the writer or the readers) at most once per
// checkpointInterval while writes are committed. The log can only start
// over from its beginning after a checkpoint that copied all of it, and
// under a steady stream of writes the background checkpoint is never
// complete (new pages arrive while it copies), so the writer keeps SQLite's
// own automatic checkpoint with a higher threshold, writerAutocheckpoint
// pages: when it comes, the background has already copied almost all of
// the log, the writer's checkpoint copies only the rest, and the log starts
// over. That bounds the -wal file at about writerAutocheckpoint pages (4
// KiB each), as SQLite's default does at 1,000.

// checkpointInterval is the least time between two background checkpoints:
// the pages that the commits of that time wrote, often the same ones, are
// copied once.
const checkpointInterval = 100 * time.Millisecond

// writerAutocheckpoint is the size of the log, in pages, past which the
// writer connection runs a checkpoint itself after a commit.
const writerAutocheckpoint = 8000

// runCheckpointer is the checkpointer goroutine: it waits for a commit
// (signalled on s.committed), lets checkpointInterval pass, runs a passive
// checkpoint and starts over. It returns when s.quit is closed.
func (s *Store) runCheckpointer() {
	defer close(s.checkpointerDone)
	for {
		select {
		case <-s.committed:
		case <-s.quit:
			return
		}
		t := time.NewTimer(checkpointInterval)
		select {
		case <-t.C:
		case <-s.quit:
			t.Stop()
			return
		}
		// An error (the disk is full, another process holds a lock) is
		// not the writes' concern: they go on, and the writer's own
		// automatic checkpoint still bounds the log.
		_ = s.checkpoint(context.Background(), s.checkpointer)
	}
}

// checkpoint runs a passive checkpoint on db.
func (s *Store) checkpoint(ctx context.Context, db *sql.DB) error {
	var busy, log, copied int
	return db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied)
}

// notifyCommitted tells the checkpointer that a commit wrote to the log.
func (s *Store) notifyCommitted() {
	select {
	case s.committed <- struct{}{}:
	default: // already told
	}
}
