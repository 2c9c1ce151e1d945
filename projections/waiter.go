package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// notifyChannel carries "<projection>:<sequence>" after every checkpoint.
const notifyChannel = "rafiki_projection_checkpoint"

// listenCheckInterval is how long the listener waits for a notification
// before it checks that its connection still answers, and how long it
// waits for an answer.
const listenCheckInterval = 5 * time.Second

// Waiter lets a request wait until projections have applied the events it
// wrote (read-your-writes). It follows checkpoints through LISTEN/NOTIFY, so
// it works whether the projection runs in this process or another.
type Waiter struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	connected atomic.Bool // the listener follows notifications

	mu      sync.Mutex
	applied map[string]uint64
	changed chan struct{} // closed and replaced on every advance
}

// NewWaiter builds a waiter; Run must be running for it to advance.
func NewWaiter(pool *pgxpool.Pool, log *slog.Logger) *Waiter {
	return &Waiter{pool: pool, log: log, applied: map[string]uint64{}, changed: make(chan struct{})}
}

// Run listens for checkpoints until ctx ends, reconnecting on failure.
func (w *Waiter) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := w.listen(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("checkpoint listener restarting", "err", err)
			sleep(ctx, failureBackoff)
		}
	}
}

// listen follows notifications on a connection of its own, outside the
// pool, which it holds for as long as it listens.
func (w *Waiter) listen(ctx context.Context) error {
	setupCtx, cancel := context.WithTimeout(ctx, listenCheckInterval)
	defer cancel()
	conn, err := pgx.ConnectConfig(setupCtx, w.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("checkpoint listener connection: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(setupCtx, "LISTEN "+notifyChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Read the table after LISTEN so that no advance falls in between.
	rows, err := conn.Query(setupCtx, `SELECT name, sequence FROM projection_checkpoints`)
	if err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	for rows.Next() {
		var name string
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			rows.Close()
			return err
		}
		w.advance(name, uint64(seq))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	w.connected.Store(true)
	defer w.connected.Store(false)
	for {
		// A connection that died without a word (a network partition)
		// delivers nothing: after a quiet while, make sure it still answers.
		waitCtx, cancel := context.WithTimeout(ctx, listenCheckInterval)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			pingCtx, cancel := context.WithTimeout(ctx, listenCheckInterval)
			err = conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return fmt.Errorf("checkpoint listener connection: %w", err)
			}
			continue
		}
		if err != nil {
			return err
		}
		name, seqText, ok := strings.Cut(n.Payload, ":")
		seq, err := strconv.ParseUint(seqText, 10, 64)
		if !ok || err != nil {
			w.log.Warn("bad checkpoint notification", "payload", n.Payload)
			continue
		}
		w.advance(name, seq)
	}
}

func (w *Waiter) advance(name string, seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A replay swap can move a checkpoint; readers only care that it passed
	// their sequence, so keep the highest seen.
	if seq <= w.applied[name] {
		return
	}
	w.applied[name] = seq
	close(w.changed)
	w.changed = make(chan struct{})
}

// Connected reports whether the waiter follows checkpoints now; while it
// does not, waits end at their timeout.
func (w *Waiter) Connected() bool { return w.connected.Load() }

// Applied is the last sequence the projection is known to have applied.
func (w *Waiter) Applied(name string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.applied[name]
}

// Advances answers a channel that receives, until ctx ends, whenever the
// projection's checkpoint moves on; one word stands for any number of
// moves made before it is taken.
func (w *Waiter) Advances(ctx context.Context, name string) <-chan struct{} {
	out := make(chan struct{}, 1)
	seen := w.Applied(name)
	go func() {
		for {
			w.mu.Lock()
			applied, changed := w.applied[name], w.changed
			w.mu.Unlock()
			if applied > seen {
				seen = applied
				select {
				case out <- struct{}{}:
				default:
				}
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// Wait blocks until the projection has applied sequence, or until timeout.
func (w *Waiter) Wait(ctx context.Context, name string, sequence uint64, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		done := w.applied[name] >= sequence
		changed := w.changed
		w.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return fmt.Errorf("projection %s has not applied sequence %d after %s", name, sequence, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
