package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/rafiki-go/rafiki/connector/outcomes"
	"github.com/rafiki-go/rafiki/natsembed"
	"github.com/rafiki-go/rafiki/projections"
)

const (
	// How long one check may take: a pool that cannot hand out a
	// connection this fast cannot serve requests either.
	checkTimeout = time.Second
	// Checks are run at most this often; probes in between get the last
	// answer, so that a flood of probes costs the database nothing.
	checkCacheFor = time.Second
	// A failing answer is reused for a shorter while, so that a process
	// becomes ready as soon as it can serve: at start the first probe often
	// comes a moment before the checkpoint listener has connected, and
	// keeping that answer for checkCacheFor delayed readiness by a second.
	failedCheckCacheFor = 100 * time.Millisecond
)

// Check is one thing a listener needs in order to serve: nil when it can.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// PostgresCheck asks the pool for a connection and a round trip.
func PostgresCheck(pool *pgxpool.Pool) Check {
	return Check{Name: "postgres", Run: func(ctx context.Context) error {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("no connection from the pool: %w", err)
		}
		defer conn.Release()
		return conn.Ping(ctx)
	}}
}

// AuthPostgresCheck is PostgresCheck on the auth service's database.
func AuthPostgresCheck(pool *pgxpool.Pool) Check {
	c := PostgresCheck(pool)
	c.Name = "auth_postgres"
	return c
}

// NATSCheck reports the connection to the NATS server, and that the
// server answers a ping within the check's time: a server that stopped
// answering (frozen, overloaded) keeps the connection open for a while,
// and every request waiting on it would run to its deadline.
func NATSCheck(nc *nats.Conn) Check {
	return Check{Name: "nats", Run: func(ctx context.Context) error {
		if status := nc.Status(); status != nats.CONNECTED {
			return fmt.Errorf("connection %s", status)
		}
		if err := nc.FlushWithContext(ctx); err != nil {
			return fmt.Errorf("no answer to a ping: %w", err)
		}
		return nil
	}}
}

// EventStoreDiskCheck reports whether the embedded server's store can take
// writes: its disk has room, and no write failed since JetStream started.
func EventStoreDiskCheck(ns *natsembed.Server) Check {
	return Check{Name: "event_store_disk", Run: func(context.Context) error { return ns.Writable() }}
}

// RedisCheck pings Redis.
func RedisCheck(client *redis.Client) Check {
	return Check{Name: "redis", Run: func(ctx context.Context) error { return client.Ping(ctx).Err() }}
}

// WaiterCheck reports whether mutations can wait for their read models.
func WaiterCheck(w *projections.Waiter) Check {
	return Check{Name: "checkpoint_listener", Run: func(context.Context) error {
		if !w.Connected() {
			return fmt.Errorf("not following projection checkpoints")
		}
		return nil
	}}
}

// OutcomesCheck tells what the connector holds of packet outcomes not sent
// yet and has had to drop; neither fails it, since the connector serves
// packets without NATS and the ledger keeps the money (see
// docs/OPERATIONS.md).
func OutcomesCheck(p *outcomes.Publisher) Check {
	return Check{Name: "packet_outcomes", Run: func(context.Context) error {
		s := p.Stats()
		if s.Pending == 0 && s.Dropped == 0 {
			return nil
		}
		return Note(fmt.Sprintf("%d incoming payments waiting to be told, %d packets dropped since start", s.Pending, s.Dropped))
	}}
}

// Note is what a passing check has to tell: a check whose Run returns a
// Note passes, and the answer shows "ok: <note>".
type Note string

func (n Note) Error() string { return string(n) }

// ProjectionsCheck reports the projections this process leads that are
// stuck, which fails it, and the events any projection of the databases of
// pools has set aside, which does not: a projection that set an event aside
// goes on, and the read models serve every other aggregate (see
// docs/OPERATIONS.md).
func ProjectionsCheck(runners []*projections.Runner, pools ...*pgxpool.Pool) Check {
	return Check{Name: "projections", Run: func(ctx context.Context) error {
		now := time.Now()
		for _, r := range runners {
			s := r.Status()
			if why := s.Stuck(now); why != "" {
				return fmt.Errorf("projection %s is stuck: %s", s.Projection, why)
			}
		}
		counts := map[string]int{}
		for _, pool := range pools {
			found, err := projections.SetAsideCounts(ctx, pool)
			if err != nil {
				return err
			}
			maps.Copy(counts, found)
		}
		if len(counts) == 0 {
			return nil
		}
		names := slices.Sorted(maps.Keys(counts))
		parts := make([]string, len(names))
		for i, name := range names {
			parts[i] = fmt.Sprintf("%s %d", name, counts[name])
		}
		return Note("events set aside (projection_set_aside): " + strings.Join(parts, ", "))
	}}
}

// Health answers readiness from a set of checks.
type Health struct {
	checks []Check

	mu     sync.Mutex
	at     time.Time
	report healthReport
}

type healthReport struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// NewHealth builds the readiness of a listener from its checks.
func NewHealth(checks ...Check) *Health { return &Health{checks: checks} }

// Report runs the checks (or reuses a passing answer less than
// checkCacheFor old, a failing one less than failedCheckCacheFor) and tells
// whether every one passed.
func (h *Health) Report(ctx context.Context) (healthReport, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	reuseFor := checkCacheFor
	if h.report.Status != "ok" {
		reuseFor = failedCheckCacheFor
	}
	if time.Since(h.at) < reuseFor && h.report.Status != "" {
		return h.report, h.report.Status == "ok"
	}
	results := make([]error, len(h.checks))
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Go(func() {
			checkCtx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			results[i] = c.Run(checkCtx)
		})
	}
	wg.Wait()
	report := healthReport{Status: "ok", Checks: make(map[string]string, len(h.checks))}
	for i, c := range h.checks {
		var note Note
		switch {
		case results[i] == nil:
			report.Checks[c.Name] = "ok"
		case errors.As(results[i], &note):
			report.Checks[c.Name] = "ok: " + string(note)
		default:
			report.Checks[c.Name] = results[i].Error()
			report.Status = "error"
		}
	}
	h.at, h.report = time.Now(), report
	return report, report.Status == "ok"
}

// serveReadiness answers 200 when every check passes, 503 otherwise, with
// what each check found.
func (h *Health) serveReadiness(w http.ResponseWriter, r *http.Request) {
	report, ok := h.Report(r.Context())
	body, _ := json.Marshal(report)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(body)
}

// serveLiveness answers 200 while the process serves HTTP at all: a
// restart cures none of what readiness checks (a database or server out of
// reach), so liveness does not depend on them.
func serveLiveness(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}
