package sqlite

import (
	"context"
	"time"
)

// Checkpoints. In WAL mode a commit appends pages to the -wal file, and a
// checkpoint copies them back into the database file. By default SQLite
// runs one in the connection that commits, once the log passes 1,000 pages:
// here the writer, which holds every other write of the server behind it
// while it copies pages and syncs the files. Measured, that was the bulk of
// the writes' p99 latency, and it grew with the database (see
// docs/performance.md).
//
// The Store does that work in the background instead. The checkpointer
// goroutine, on a connection of its own, runs a PASSIVE checkpoint (which
// neither waits for nor blocks the writer or the readers) at most once per
// checkpointInterval while writes are committed, and then syncs the
// database file, so that the dirty pages it copied reach the disk in the
// background too.
//
// The log can only start over from its beginning after a checkpoint that
// copied all of it, and under a steady stream of writes a background
// checkpoint never does (new pages arrive while it copies). So once the log
// holds restartPages pages, the checkpointer asks the writer goroutine to
// run one more checkpoint itself, between two batches (when no write of
// this process can come in meanwhile): it copies only what the background
// checkpoint left, syncs, and the next write transaction starts the log
// over. That bounds the -wal file at about restartPages pages (4 KiB each)
// and costs the writes one short pause per restartPages pages instead of
// one long pause per 1,000.
//
// SQLite's own automatic checkpoint stays on in the writer, at
// writerAutocheckpoint pages, as a bound should the checkpointer fall
// behind or fail.

// checkpointInterval is the least time between two background checkpoints:
// the pages that the commits of that time wrote, often the same ones, are
// copied once.
const checkpointInterval = 100 * time.Millisecond

// restartPages is the size of the log, in pages, at which the checkpointer
// asks the writer to start the log over.
const restartPages = 8000

// writerAutocheckpoint is the size of the log, in pages, past which the
// writer connection runs a checkpoint itself after a commit (SQLite's
// wal_autocheckpoint): a bound that the checkpointer keeps the log below.
const writerAutocheckpoint = 4 * restartPages

// runCheckpointer is the checkpointer goroutine: it waits for a commit
// (signalled on s.committed), lets checkpointInterval pass, runs a
// background checkpoint, asks the writer to start the log over when it has
// reached s.restartPages pages, and starts over. It returns when s.quit is
// closed.
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
		if pages, err := s.backgroundCheckpoint(context.Background()); err == nil && pages >= s.restartPages {
			select {
			case s.restart <- struct{}{}:
			default: // asked already
			}
		}
	}
}

// backgroundCheckpoint runs a passive checkpoint on the checkpointer's
// connection and syncs the database file. It returns the size of the log in
// pages.
func (s *Store) backgroundCheckpoint(ctx context.Context) (logPages int, err error) {
	var busy, copied int
	err = s.checkpointer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &copied)
	if err != nil {
		return 0, err
	}
	// A checkpoint syncs the database file only when it has copied the
	// whole log, which under load only the writer's does: the pages of
	// every background checkpoint since would wait for that sync, and the
	// writes behind it with them. Syncing here (through a descriptor of
	// our own: fsync flushes the file whoever wrote it) leaves it little
	// to do. An error only leaves it more.
	if copied > 0 && s.dbFile != nil {
		_ = s.dbFile.Sync()
	}
	return logPages, nil
}

// restartLog is run by the writer goroutine between two batches, when the
// checkpointer asks: a passive checkpoint on the writer's connection, which
// no write of this process can overtake, so that it copies the whole log
// and the next write transaction starts the log over (unless a reader
// still uses the log then; the checkpointer asks again).
func (s *Store) restartLog() {
	var busy, logPages, copied int
	_ = s.writer.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &copied)
}

// notifyCommitted tells the checkpointer that a commit wrote to the log.
func (s *Store) notifyCommitted() {
	select {
	case s.committed <- struct{}{}:
	default: // already told
	}
}
