package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"

	"github.com/clientreg/clientreg/store"
)

// maxBatch bounds how many write operations one transaction of the writer
// runs (see Store.runWriter).
const maxBatch = 64

// The states of a writeOp. The caller and the writer goroutine race to move
// it out of opQueued: the caller to opCanceled when its context ends, the
// writer to opRunning when it starts the operation. Whoever wins decides
// whether the operation runs.
const (
	opQueued int32 = iota
	opRunning
	opCanceled
)

// writeOp is one write operation handed to the writer goroutine.
type writeOp struct {
	// ctx is the caller's context, without its cancellation once the
	// operation has started: a started operation completes with its batch.
	ctx context.Context
	// fn runs the operation's statements in tx. An error rolls back its
	// statements (and only those) and is the operation's result.
	fn    func(ctx context.Context, tx *sql.Tx) error
	state atomic.Int32
	// done receives the operation's result, once: nil only after the
	// commit that contains it.
	done chan error
}

// write runs fn in a write transaction and returns nil once that
// transaction has committed, or the error of fn or of the transaction as
// mapErr maps it for operation op.
//
// fn does not run in a transaction of its own: the writer goroutine runs
// the operations that wait for it in batches, one transaction per batch,
// each operation inside a SAVEPOINT of its own (group commit; see the
// package documentation). fn must therefore keep to its statements in tx,
// report every failure as its error (which rolls back exactly its
// statements), and leave effects outside the database (such as setting a
// result) to its caller, after write returns nil: a later failure of the
// batch's commit undoes fn's statements too.
//
// When ctx ends before the operation has started, write returns the
// context's error and fn never runs. Once started, the operation runs to the
// end of its batch whatever ctx does, and write waits for the commit: its
// statements are not interrupted midway.
func (s *Store) write(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if s.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w: store is closed", op, store.ErrUnavailable)
	}
	w := &writeOp{ctx: context.WithoutCancel(ctx), fn: fn, done: make(chan error, 1)}
	select {
	case s.queue <- w:
	case <-ctx.Done():
		return fmt.Errorf("sqlite: %s: %w", op, ctx.Err())
	case <-s.quit:
		return fmt.Errorf("sqlite: %s: %w: store is closed", op, store.ErrUnavailable)
	}
	select {
	case err := <-w.done:
		return s.writeErr(ctx, op, err)
	case <-ctx.Done():
		if w.state.CompareAndSwap(opQueued, opCanceled) {
			return fmt.Errorf("sqlite: %s: %w", op, ctx.Err())
		}
		// Started: it completes with its batch.
		return s.writeErr(ctx, op, <-w.done)
	}
}

// writeErr maps the result of a write operation; nil stays nil, even when
// ctx has ended since, for the write committed.
func (s *Store) writeErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	return s.mapErr(ctx, op, err)
}

// runWriter is the writer goroutine: it takes the operations queued on
// s.queue, as many as are waiting (at least one, at most maxBatch), runs
// them in one transaction and commits it, then answers each. It never waits
// for a batch to fill: a lone operation runs at once. Between batches it
// also runs the checkpoint that restarts the log when the checkpointer asks
// (see restartLog). It returns when s.quit is closed, after the batch under
// way.
func (s *Store) runWriter() {
	defer close(s.writerDone)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case w := <-s.queue:
			batch = append(batch[:0], w)
		case <-s.restart:
			s.restartLog()
			continue
		case <-s.quit:
			return
		}
	collect:
		for len(batch) < maxBatch {
			select {
			case w := <-s.queue:
				batch = append(batch, w)
			default:
				break collect
			}
		}
		s.runBatch(batch)
		clear(batch)
	}
}

// runBatch runs the operations of batch in one transaction and answers
// each of them.
func (s *Store) runBatch(batch []*writeOp) {
	if s.testHookBatch != nil {
		s.testHookBatch()
	}
	results := make([]error, len(batch))
	answer := func() {
		for i, w := range batch {
			if w.state.Load() == opRunning {
				w.done <- results[i]
			}
		}
	}
	// The transaction's own statements are not interrupted by any caller's
	// context; a lock held by another process is waited for up to the busy
	// timeout (BEGIN IMMEDIATE, see _txlock). Callers may give up on their
	// operation meanwhile, as long as it has not started.
	bg := context.Background()
	tx, err := s.writer.BeginTx(bg, nil)
	if err != nil {
		for i, w := range batch {
			if w.state.CompareAndSwap(opQueued, opRunning) {
				results[i] = err
			}
		}
		answer()
		return
	}
	// A lone operation needs no savepoint: its failure rolls back the
	// transaction, which holds nothing else.
	savepoints := len(batch) > 1
	committed := 0 // operations whose statements the commit would keep
	for i, w := range batch {
		if !w.state.CompareAndSwap(opQueued, opRunning) {
			continue // canceled before it started
		}
		if savepoints {
			if _, err := s.exec(bg, tx, querySavepoint); err != nil {
				s.abortBatch(tx, batch, results, i, err)
				answer()
				return
			}
		}
		results[i] = w.fn(w.ctx, tx)
		switch {
		case !savepoints:
		case results[i] != nil:
			// ROLLBACK TO undoes the operation's statements and keeps the
			// savepoint open; RELEASE ends it.
			if _, err := s.exec(bg, tx, queryRollbackToSavepoint); err != nil {
				// An error that rolled back the whole transaction
				// (SQLITE_FULL, SQLITE_IOERR, ...) leaves no savepoint.
				s.abortBatch(tx, batch, results, i, err)
				answer()
				return
			}
			fallthrough
		default:
			if _, err := s.exec(bg, tx, queryReleaseSavepoint); err != nil {
				s.abortBatch(tx, batch, results, i, err)
				answer()
				return
			}
		}
		if results[i] == nil {
			committed++
		}
	}
	if committed == 0 {
		_ = tx.Rollback()
		answer()
		return
	}
	if err := tx.Commit(); err != nil {
		for i, w := range batch {
			if w.state.Load() == opRunning && results[i] == nil {
				results[i] = err
			}
		}
		// A COMMIT that fails may leave the transaction open (a deferred
		// constraint, SQLITE_BUSY), and database/sql considers the Tx done
		// either way: roll back on the connection itself, the writer's
		// only one, so that the next batch can begin.
		_, _ = s.writer.ExecContext(bg, "ROLLBACK")
	} else {
		s.notifyCommitted()
	}
	answer()
}

// abortBatch rolls back the transaction of batch after err broke it while
// the operation at index at ran. Nothing of the batch is kept: the
// operations up to that one fail with err, unless they failed already (with
// an error of their own, which stays true), and those after it fail with
// err without being run.
func (s *Store) abortBatch(tx *sql.Tx, batch []*writeOp, results []error, at int, err error) {
	_ = tx.Rollback()
	err = fmt.Errorf("transaction rolled back: %w", err)
	for i, w := range batch {
		if i > at && !w.state.CompareAndSwap(opQueued, opRunning) {
			continue
		}
		if w.state.Load() == opRunning && results[i] == nil {
			results[i] = err
		}
	}
}

// The savepoint of each operation of a batch.
const (
	querySavepoint           = `SAVEPOINT op`
	queryRollbackToSavepoint = `ROLLBACK TO op`
	queryReleaseSavepoint    = `RELEASE op`
)
