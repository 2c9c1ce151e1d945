package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config is how a dispatcher delivers.
type Config struct {
	// OperatorTenantID receives a copy of every other tenant's events when
	// SendToOperator (SEND_TENANT_WEBHOOKS_TO_OPERATOR).
	OperatorTenantID string
	SendToOperator   bool
	// URL, Timeout and MaxRetry (WEBHOOK_URL, WEBHOOK_TIMEOUT,
	// WEBHOOK_MAX_RETRY) hold for a recipient without its own settings.
	URL      string
	Timeout  time.Duration
	MaxRetry int
	// SignatureSecret signs the deliveries when set, in the header's
	// version SignatureVersion.
	SignatureSecret  string
	SignatureVersion int
	// RetryStep is the step of the backoff (Backoff); Idle how long a
	// dispatcher with nothing to do waits before it looks again.
	RetryStep time.Duration
	Idle      time.Duration
	// Wake, when set, receives when new webhook events may be waiting (the
	// webhooks projection applied more): the dispatcher then sweeps as soon
	// as the quarter of Idle since its last sweep has passed, rather than
	// at the end of Idle.
	Wake <-chan struct{}
	// Slots is how many deliveries a dispatcher has under way at most;
	// PerRecipient how many of them may be one recipient's once its last
	// attempt succeeded, and PerUnprovenRecipient how many before that (no
	// attempt succeeded yet in this process, or the last one failed), so
	// that a recipient whose endpoint is slow or dead holds a few slots from
	// its first attempts on, and the other recipients' deliveries go on in
	// the rest.
	Slots, PerRecipient, PerUnprovenRecipient int
	// Reveal, when set, opens what a webhook event's data holds sealed
	// (a partial payment's data from its sender) for its delivery only.
	Reveal func(ctx context.Context, eventType string, data []byte) ([]byte, error)
}

// Settings are a recipient tenant's own webhook settings by key
// (WEBHOOK_URL, WEBHOOK_TIMEOUT, WEBHOOK_MAX_RETRY); an absent key takes
// the dispatcher's.
type Settings func(ctx context.Context, tenantID string) (map[string]string, error)

// Dispatcher turns webhook events into deliveries and delivers them. Any
// number of dispatchers may run, in any processes: each delivery is leased
// to one at a time.
type Dispatcher struct {
	pool     *pgxpool.Pool
	cfg      Config
	settings Settings
	client   *http.Client
	log      *slog.Logger

	mu       sync.Mutex
	inFlight map[string]int  // by recipient
	proven   map[string]bool // recipients whose last attempt succeeded
	freed    chan struct{}
	// freedSince counts the deliveries that ended since the last lease.
	freedSince int
	status     Status

	outcomes chan *outcome // to the recorder
}

// Defaults of what a Config leaves zero.
const (
	timeoutDefault   = 2 * time.Second
	idleDefault      = 200 * time.Millisecond
	retryStepDefault = 10 * time.Second
	slotsDefault     = 16
	// leaseMin is how long a delivery is leased at least: a dispatcher
	// that died with it leaves it to another once the lease ends. A
	// recipient's timeout longer than that lengthens the lease.
	leaseMin = 30 * time.Second
	// leaseMargin is what a lease keeps past the request's timeout, for
	// recording the outcome.
	leaseMargin = 10 * time.Second
	// sweepMax is how many webhook events one sweep turns into deliveries.
	sweepMax = 1000
	// sweepQuietMax: a sweep that took fewer events than this lets the
	// next come at the next word of new events, without the quarter of the
	// idle time between two: in a quiet system each of a payment's events
	// otherwise waited for it (25 ms on average, one client paying after
	// another). It applies below about 80 events a second, so the sweeps
	// it adds are few.
	sweepQuietMax = 4
	// responseBodyMax is how much of a response is read, so that the
	// connection can be used again; the rest is dropped.
	responseBodyMax = 64 << 10
	// errorLengthMax bounds the error recorded with an attempt.
	errorLengthMax = 1000
)

// New makes a dispatcher over the backend's database, whose webhooks read
// model it reads and whose deliveries it keeps.
func New(pool *pgxpool.Pool, cfg Config, settings Settings, client *http.Client, log *slog.Logger) *Dispatcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = timeoutDefault
	}
	if cfg.Idle <= 0 {
		cfg.Idle = idleDefault
	}
	if cfg.RetryStep <= 0 {
		cfg.RetryStep = retryStepDefault
	}
	if cfg.Slots <= 0 {
		cfg.Slots = slotsDefault
	}
	if cfg.PerRecipient <= 0 || cfg.PerRecipient > cfg.Slots {
		cfg.PerRecipient = max(cfg.Slots/2, 1)
	}
	if cfg.PerUnprovenRecipient <= 0 || cfg.PerUnprovenRecipient > cfg.PerRecipient {
		cfg.PerUnprovenRecipient = max(cfg.PerRecipient/4, 1)
	}
	return &Dispatcher{pool: pool, cfg: cfg, settings: settings, client: client, log: log,
		inFlight: map[string]int{}, proven: map[string]bool{}, freed: make(chan struct{}, 1),
		outcomes: make(chan *outcome, cfg.Slots)}
}

// Run sweeps and delivers until ctx ends, then waits for the deliveries
// under way; those it cancels are delivered again when their lease ends.
// A dispatcher runs once.
func (d *Dispatcher) Run(ctx context.Context) {
	d.mu.Lock()
	d.status.Started = time.Now()
	d.mu.Unlock()
	var recorder sync.WaitGroup
	recorder.Go(d.recordOutcomes)
	defer recorder.Wait()
	defer close(d.outcomes)
	var running sync.WaitGroup
	defer running.Wait()
	var swept time.Time
	// woken: events came since the last sweep began.
	woken := false
	sweepGap := d.cfg.Idle / 4
	// gap is how long after a sweep the next may come when woken:
	// sweepGap after one that took sweepQuietMax events or more, none after
	// one that took fewer. Unwoken, sweeps are sweepGap apart.
	gap := sweepGap
	// dueUnseen: deliveries may be due that no lease has looked at since
	// one last found all there were (at allDueAt): at the start, after a
	// sweep left some due, and once the idle time passed since (retries
	// come due, another dispatcher's sweep leaves some), however busy the
	// dispatcher is. A freed slot leases only then: the sweep leases the
	// new deliveries itself, and a lease finding nothing costs a statement.
	dueUnseen := true
	var allDueAt time.Time
	for ctx.Err() == nil {
		dueUnseen = dueUnseen || time.Since(allDueAt) >= d.cfg.Idle
		// New events wait a quarter of the idle time at most; a sweep at
		// every freed slot would cost more than the deliveries.
		var failed error
		if time.Since(swept) >= sweepGap || woken && gap == 0 {
			swept, woken = time.Now(), false
			n, left, jobs, err := d.sweep(ctx)
			if err != nil && ctx.Err() == nil {
				d.log.Warn("webhook sweep failed", "error", err)
				failed = err
			}
			gap = sweepGap
			if err == nil && n < sweepQuietMax {
				gap = 0
			}
			dueUnseen = dueUnseen || left > 0 || err != nil
			d.launch(ctx, &running, jobs)
		}
		for ctx.Err() == nil && dueUnseen {
			allowed, free := d.allowed()
			if free == 0 {
				break
			}
			d.mu.Lock()
			d.freedSince = 0
			d.mu.Unlock()
			jobs, err := d.claim(ctx, allowed, free)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn("webhook claim failed", "error", err)
					failed = err
				}
				break
			}
			d.launch(ctx, &running, jobs)
			if len(jobs) < free {
				if d.foundAllDue(allowed, jobs) {
					dueUnseen, allDueAt = false, time.Now()
				}
				break
			}
		}
		d.looped(time.Now(), failed)
		woken = d.wait(ctx, swept.Add(gap), woken)
	}
}

// foundAllDue tells whether a lease that took jobs, fewer than its free
// slots, found every delivery due: none of its recipients was held back by
// its bound (allowed, before the lease).
func (d *Dispatcher) foundAllDue(allowed map[string]int, jobs []*job) bool {
	if anyAtBound(allowed) {
		return false
	}
	taken := map[string]int{}
	for _, j := range jobs {
		taken[j.recipient]++
	}
	for r, n := range taken {
		if n >= d.mayAdd(allowed, r) {
			return false
		}
	}
	return true
}

// launch makes the leased jobs' attempts, each in a goroutine of running.
func (d *Dispatcher) launch(ctx context.Context, running *sync.WaitGroup, jobs []*job) {
	if len(jobs) == 0 {
		return
	}
	targets := d.targets(ctx, jobs)
	for _, j := range jobs {
		d.start(j.recipient)
		running.Go(func() {
			defer d.done(j.recipient)
			d.deliver(ctx, j, targets[j.recipient])
		})
	}
}

// wait waits for a slot to free, for the end of the idle time, or, once
// told of new events (woken), for the next sweep allowed at sweepAt. A word
// of new events that cannot be swept yet only brings the end of the wait
// forward: going round the loop for it would lease again for nothing. It
// answers whether new events are waiting.
func (d *Dispatcher) wait(ctx context.Context, sweepAt time.Time, woken bool) bool {
	deadline := time.Now().Add(d.cfg.Idle)
	if woken && sweepAt.Before(deadline) {
		deadline = sweepAt
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return woken
		case <-timer.C:
			return woken
		case <-d.freed:
			d.gather(ctx)
			return woken
		case <-d.cfg.Wake:
			woken = true
			if sweepAt.Before(deadline) {
				deadline = sweepAt
				timer.Reset(time.Until(deadline))
			}
		}
	}
}

// Status is what a dispatcher's readiness check tells.
type Status struct {
	// Started is when Run started, zero before; Looped when its loop last
	// went round (a sweep and leases, or finding there was nothing to do).
	Started, Looped time.Time
	// FailingSince is when the sweep or the lease began failing, zero
	// while they succeed; Error the last failure.
	FailingSince time.Time
	Error        string
	InFlight     int
	Recipients   int // with deliveries under way
}

// stuckAfter is how long a dispatcher may fail, or not go round its loop,
// before it is stuck.
const stuckAfter = 10 * time.Second

// Stuck tells why the dispatcher is not delivering, "" when it is.
func (s Status) Stuck(now time.Time) string {
	last := s.Looped
	if last.IsZero() {
		last = s.Started
	}
	switch {
	case s.Started.IsZero():
		return ""
	case !s.FailingSince.IsZero() && now.Sub(s.FailingSince) >= stuckAfter:
		return fmt.Sprintf("sweeping or leasing deliveries has failed for %s: %s", now.Sub(s.FailingSince).Round(time.Second), s.Error)
	case now.Sub(last) >= stuckAfter:
		return fmt.Sprintf("its loop has not gone round for %s", now.Sub(last).Round(time.Second))
	}
	return ""
}

// Status answers the dispatcher's state now.
func (d *Dispatcher) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.status
	for _, n := range d.inFlight {
		s.InFlight += n
	}
	s.Recipients = len(d.inFlight)
	return s
}

// looped records a round of the loop, and whether its sweep or a lease
// failed.
func (d *Dispatcher) looped(at time.Time, failed error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status.Looped = at
	switch {
	case failed == nil:
		d.status.FailingSince, d.status.Error = time.Time{}, ""
	case d.status.FailingSince.IsZero():
		d.status.FailingSince, d.status.Error = at, failed.Error()
	default:
		d.status.Error = failed.Error()
	}
}

// claimGather is how long a dispatcher whose slot just freed waits for
// more to free before it leases: a lease is a statement and a commit, which
// a delivery of a busy dispatcher should share with others, rather than
// one each as slots free one after another.
const claimGather = 2 * time.Millisecond

// gather waits until a quarter of the slots were freed since the last
// lease, or claimGather. It counts deliveries that ended rather than slots
// free: a dispatcher whose only recipient is at its bound has many slots
// free and only as many leases to make as deliveries ended.
func (d *Dispatcher) gather(ctx context.Context) {
	deadline := time.NewTimer(claimGather)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		freed := d.freedSince
		d.mu.Unlock()
		if freed >= max(d.cfg.Slots/4, 1) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-d.freed:
		}
	}
}

// allowed answers how many more deliveries may start, and how many of them
// may be each recipient's that has some under way or is proven; any other
// recipient may have PerUnprovenRecipient.
func (d *Dispatcher) allowed() (map[string]int, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	total := 0
	out := make(map[string]int, len(d.inFlight)+len(d.proven))
	for r := range d.proven {
		out[r] = d.cfg.PerRecipient
	}
	for r, n := range d.inFlight {
		total += n
		limit := d.cfg.PerUnprovenRecipient
		if d.proven[r] {
			limit = d.cfg.PerRecipient
		}
		out[r] = limit - n
	}
	return out, max(d.cfg.Slots-total, 0)
}

// attempted records whether a recipient's last attempt succeeded.
func (d *Dispatcher) attempted(recipient string, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ok {
		d.proven[recipient] = true
	} else {
		delete(d.proven, recipient)
	}
}

func (d *Dispatcher) start(recipient string) {
	d.mu.Lock()
	d.inFlight[recipient]++
	d.mu.Unlock()
}

func (d *Dispatcher) done(recipient string) {
	d.mu.Lock()
	if d.inFlight[recipient]--; d.inFlight[recipient] <= 0 {
		delete(d.inFlight, recipient)
	}
	d.freedSince++
	d.mu.Unlock()
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

// sweep turns the webhook events the read model holds past the last sweep
// into deliveries: one to the tenant the event is about, and a copy to the
// operator when it asks for one. It records how far it went in the same
// transaction, in the stream the projection's checkpoint counts in (a
// read model rebuilt from another stream is swept from its start; the
// events it had are delivered once, by their ids). It leases to this
// dispatcher at once the new deliveries it has slots for (see sweepOnce),
// and answers how many events it took, how many deliveries it left due, and
// the leased jobs.
func (d *Dispatcher) sweep(ctx context.Context) (taken, left int, leased []*job, err error) {
	for {
		allowed, free := d.allowed()
		for _, j := range leased {
			allowed[j.recipient] = d.mayAdd(allowed, j.recipient) - 1
			free--
		}
		n, due, jobs, err := d.sweepOnce(ctx, allowed, max(free, 0))
		taken, left, leased = taken+n, left+due, append(leased, jobs...)
		if err != nil || n < sweepMax {
			return taken, left, leased, err
		}
	}
}

// allowedArrays spells allowed as the two arrays a statement unnests.
func allowedArrays(allowed map[string]int) (recipients []string, counts []int32) {
	recipients, counts = []string{}, []int32{}
	for r, c := range allowed {
		recipients, counts = append(recipients, r), append(counts, int32(c))
	}
	return recipients, counts
}

// anyAtBound tells whether a recipient of allowed may start no more.
func anyAtBound(allowed map[string]int) bool {
	for _, n := range allowed {
		if n <= 0 {
			return true
		}
	}
	return false
}

// mayAdd is how many more deliveries of recipient allowed lets start.
func (d *Dispatcher) mayAdd(allowed map[string]int, recipient string) int {
	if n, ok := allowed[recipient]; ok {
		return n
	}
	return d.cfg.PerUnprovenRecipient
}

// sweepOnce takes up to sweepMax webhook events past the mark and inserts
// their deliveries. Of the new deliveries, up to free are leased at once to
// this dispatcher, no more of a recipient than it may add (allowed,
// PerUnprovenRecipient for one not in it) and each recipient's first before
// any recipient's second, as a lease takes them (claim): a delivery made
// due only to be leased a moment later cost a statement and the update of
// its row and of its indexes. Deliveries due before, a retry say, are not
// passed over for long: within the idle time a freed slot leases the
// deliveries due first (Run).
func (d *Dispatcher) sweepOnce(ctx context.Context, allowed map[string]int, free int) (n, left int, jobs []*job, err error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("sweep: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var mark int64
	var markStream, stream *int64
	// Another dispatcher sweeping now takes what this one would.
	err = tx.QueryRow(ctx, `SELECT sequence, stream_created_unix_nanos FROM webhook_sweep FOR UPDATE SKIP LOCKED`).Scan(&mark, &markStream)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, nil, nil
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("sweep: read mark: %w", err)
	}
	err = tx.QueryRow(ctx, `SELECT stream_created_unix_nanos FROM projection_checkpoints WHERE name = 'webhooks'`).Scan(&stream)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, nil, nil
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("sweep: read checkpoint: %w", err)
	}
	if stream == nil {
		return 0, 0, nil, nil
	}
	if markStream == nil || *markStream != *stream {
		mark = 0
	}
	var operator *string
	if d.cfg.SendToOperator && d.cfg.OperatorTenantID != "" {
		operator = &d.cfg.OperatorTenantID
	}
	recipients, counts := allowedArrays(allowed)
	// The first row tells the events taken; the others are the deliveries
	// leased here.
	rows, err := tx.Query(ctx, `WITH taken AS (
			SELECT id, tenant_id, type, sequence FROM rm_webhooks.webhook_events WHERE sequence > $1 ORDER BY sequence LIMIT $2),
		recipients AS (
			SELECT id, tenant_id AS recipient, type, sequence FROM taken
			UNION ALL SELECT id, $3::uuid, type, sequence FROM taken WHERE $3::uuid IS NOT NULL AND tenant_id <> $3::uuid),
		allowed AS (SELECT * FROM unnest($4::uuid[], $5::int[]) AS a(recipient, n)),
		ranked AS (
			SELECT r.id, r.recipient, r.sequence, coalesce(allowed.n, $6) AS may,
				row_number() OVER (PARTITION BY r.recipient ORDER BY r.sequence) AS rank
			FROM recipients r LEFT JOIN allowed ON allowed.recipient = r.recipient),
		leased AS (
			SELECT id, recipient FROM ranked WHERE rank <= may ORDER BY rank, sequence LIMIT $7),
		added AS (
			INSERT INTO webhook_deliveries (event_id, recipient_tenant_id, event_type, process_at, attempts)
			SELECT r.id, r.recipient, r.type,
				CASE WHEN l.id IS NULL THEN now() ELSE now() + $8::bigint * interval '1 millisecond' END,
				CASE WHEN l.id IS NULL THEN 0 ELSE 1 END
			FROM recipients r LEFT JOIN leased l ON l.id = r.id AND l.recipient = r.recipient
			ON CONFLICT DO NOTHING
			RETURNING event_id, recipient_tenant_id, event_type, attempts)
		SELECT NULL, NULL, NULL, NULL, NULL, coalesce(max(sequence), $1), count(*), (SELECT count(*) FROM added) FROM taken
		UNION ALL
		SELECT a.event_id::text, a.recipient_tenant_id::text, a.event_type, a.attempts,
			(SELECT e.data::text FROM rm_webhooks.webhook_events e WHERE e.id = a.event_id), NULL, NULL, NULL
		FROM added a WHERE a.attempts = 1`,
		mark, sweepMax, operator, recipients, counts, d.cfg.PerUnprovenRecipient, free, leaseMin.Milliseconds())
	if err != nil {
		return 0, 0, nil, fmt.Errorf("sweep: %w", err)
	}
	var last int64
	var made int
	for rows.Next() {
		var eventID, recipient, eventType *string
		var attempts *int32
		var data []byte
		var lastSeen, count, added *int64
		if err := rows.Scan(&eventID, &recipient, &eventType, &attempts, &data, &lastSeen, &count, &added); err != nil {
			rows.Close()
			return 0, 0, nil, fmt.Errorf("sweep: %w", err)
		}
		if eventID == nil {
			last, n, made = *lastSeen, int(*count), int(*added)
			continue
		}
		jobs = append(jobs, &job{eventID: *eventID, recipient: *recipient, eventType: *eventType, attempts: int(*attempts), data: data})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, nil, fmt.Errorf("sweep: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE webhook_sweep SET sequence = $1, stream_created_unix_nanos = $2`, last, *stream); err != nil {
		return 0, 0, nil, fmt.Errorf("sweep: record mark: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, nil, fmt.Errorf("sweep: commit: %w", err)
	}
	return n, made - len(jobs), jobs, nil
}

// job is one attempt of a delivery.
type job struct {
	eventID, recipient, eventType string
	attempts                      int // this one included
	data                          []byte
}

// claimLook is how many due deliveries a claim looks at for each it may
// lease, so that deliveries another dispatcher locked meanwhile, or of a
// recipient that may take no more, leave others to take.
const claimLook = 4

// claimRecipientsMax bounds the recipients a claim by recipient looks at:
// it costs an index probe for each recipient with deliveries waiting.
const claimRecipientsMax = 10_000

// The deliveries a claim looks at, in one of two ways (see claim). Both
// end in the same columns: the delivery, its rank among its recipient's,
// and how many its recipient may add ($1 and $2 the recipients the
// dispatcher knows and how many each may add, $3 what any other may add).
const (
	dueFirst = `due AS (
			SELECT s.event_id, s.recipient_tenant_id, s.process_at, s.rank, coalesce(allowed.n, $3) AS may
			FROM (SELECT event_id, recipient_tenant_id, process_at,
					row_number() OVER (PARTITION BY recipient_tenant_id ORDER BY process_at, event_id) AS rank
				FROM (SELECT event_id, recipient_tenant_id, process_at FROM webhook_deliveries
					WHERE process_at <= now() ORDER BY process_at LIMIT $6) f) s
			LEFT JOIN allowed ON allowed.recipient = s.recipient_tenant_id)`
	dueByRecipient = `waiting AS (
			(SELECT recipient_tenant_id AS r FROM webhook_deliveries WHERE process_at IS NOT NULL
				ORDER BY recipient_tenant_id LIMIT 1)
			UNION ALL
			SELECT (SELECT w.recipient_tenant_id FROM webhook_deliveries w
					WHERE w.process_at IS NOT NULL AND w.recipient_tenant_id > waiting.r
					ORDER BY w.recipient_tenant_id LIMIT 1)
			FROM waiting WHERE waiting.r IS NOT NULL),
		due AS (
			SELECT x.event_id, x.recipient_tenant_id, x.process_at, x.rank, coalesce(allowed.n, $3) AS may
			FROM (SELECT r FROM waiting WHERE r IS NOT NULL LIMIT $7) rs
			LEFT JOIN allowed ON allowed.recipient = rs.r
			CROSS JOIN LATERAL (
				SELECT w.event_id, w.recipient_tenant_id, w.process_at,
					row_number() OVER (ORDER BY w.process_at, w.event_id) AS rank
				FROM webhook_deliveries w
				WHERE w.recipient_tenant_id = rs.r AND w.process_at <= now()
				ORDER BY w.process_at, w.event_id
				LIMIT least(greatest(coalesce(allowed.n, $3), 0), $4) * $6) x)`
)

// sqlLookUpByIndex makes the statement after it, in the same batch (one
// transaction), find deliveries by their indexes. It joins them with the
// ids it is given; a plan made while the table was small, and kept (a
// generic plan, until statistics come), would scan the whole table at
// every lease and outcome, a cost that grows with every delivery made. The
// plan is kept: with arrays of ids Postgres would otherwise plan the
// outcomes' update afresh for most batches, for more than it costs to run.
const sqlLookUpByIndex = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true)`

// claim leases up to n of the deliveries due first, counting the attempts,
// no more of a recipient than it may add (allowed, PerUnprovenRecipient
// for a recipient not in it), and each recipient's first before any
// recipient's second, so that free slots are shared among the recipients
// with deliveries due. While every recipient may add some, it looks at the
// n × claimLook deliveries due first (dueFirst). Once one may add none (an
// endpoint timing out holds its slots), the deliveries due first may all
// be that recipient's backlog, of any size: then it goes through the
// recipients with deliveries waiting (a skip scan of
// webhook_deliveries_recipient_due) and looks at the first due of each
// that may add some (dueByRecipient), so that the backlog costs one index
// probe.
//
// It locks each delivery it picked by its key. Its check that the delivery
// is still due does not say that process_at is set (coalesce), which keeps
// the partial index by recipient out of that lookup: through it, a lookup
// reads the recipient's whole range of due times, with the entries of the
// deliveries made before until a vacuum removes them, a cost that grows
// with every delivery made.
func (d *Dispatcher) claim(ctx context.Context, allowed map[string]int, n int) ([]*job, error) {
	recipients, counts := allowedArrays(allowed)
	due := dueFirst
	args := []any{recipients, counts, d.cfg.PerUnprovenRecipient, n, leaseMin.Milliseconds(), n * claimLook}
	if anyAtBound(allowed) {
		due = dueByRecipient
		args = []any{recipients, counts, d.cfg.PerUnprovenRecipient, n, leaseMin.Milliseconds(), claimLook, claimRecipientsMax}
	}
	b := &pgx.Batch{}
	b.Queue(sqlLookUpByIndex)
	b.Queue(`WITH RECURSIVE allowed AS (SELECT * FROM unnest($1::uuid[], $2::int[]) AS a(recipient, n)),
		`+due+`,
		picked AS (
			SELECT d.event_id, d.recipient_tenant_id FROM webhook_deliveries d
			JOIN due ON due.event_id = d.event_id AND due.recipient_tenant_id = d.recipient_tenant_id
			WHERE due.rank <= due.may AND coalesce(d.process_at, 'infinity') <= now()
			ORDER BY due.rank, due.process_at LIMIT $4
			FOR UPDATE OF d SKIP LOCKED)
		UPDATE webhook_deliveries d SET process_at = now() + $5::bigint * interval '1 millisecond', attempts = d.attempts + 1,
			updated_at = now()
		FROM picked WHERE d.event_id = picked.event_id AND d.recipient_tenant_id = picked.recipient_tenant_id
		RETURNING d.event_id::text, d.recipient_tenant_id::text, d.event_type, d.attempts,
			(SELECT e.data::text FROM rm_webhooks.webhook_events e WHERE e.id = d.event_id)`, args...)
	br := d.pool.SendBatch(ctx, b)
	defer func() { _ = br.Close() }()
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	defer rows.Close()
	var jobs []*job
	for rows.Next() {
		var j job
		if err := rows.Scan(&j.eventID, &j.recipient, &j.eventType, &j.attempts, &j.data); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
		jobs = append(jobs, &j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return jobs, nil
}

// target is where and how a recipient is sent its webhooks.
type target struct {
	url      string
	timeout  time.Duration
	maxRetry int
}

func (d *Dispatcher) target(ctx context.Context, recipient string) (target, error) {
	t := target{url: d.cfg.URL, timeout: d.cfg.Timeout, maxRetry: d.cfg.MaxRetry}
	s, err := d.settings(ctx, recipient)
	if err != nil {
		return t, err
	}
	if v := s["WEBHOOK_URL"]; v != "" {
		t.url = v
	}
	if ms, err := strconv.Atoi(s["WEBHOOK_TIMEOUT"]); err == nil && ms > 0 {
		t.timeout = time.Duration(ms) * time.Millisecond
	}
	if n, err := strconv.Atoi(s["WEBHOOK_MAX_RETRY"]); err == nil && n >= 0 {
		t.maxRetry = n
	}
	return t, nil
}

// settingsTimeout bounds the reads of the settings of a lease's
// recipients: the leases wait for them.
const settingsTimeout = 5 * time.Second

// resolved is a recipient's target, or why its settings could not be read.
type resolved struct {
	target target
	err    error
}

// targets reads the settings of each recipient of the jobs a lease took,
// once for all of its jobs and the recipients' at the same time: the
// settings hold from the attempts leased after they changed.
func (d *Dispatcher) targets(ctx context.Context, jobs []*job) map[string]resolved {
	ctx, cancel := context.WithTimeout(ctx, settingsTimeout)
	defer cancel()
	var recipients []string
	for _, j := range jobs {
		if !slices.Contains(recipients, j.recipient) {
			recipients = append(recipients, j.recipient)
		}
	}
	out := make(map[string]resolved, len(recipients))
	var mu sync.Mutex
	var reads sync.WaitGroup
	for _, r := range recipients {
		reads.Go(func() {
			t, err := d.target(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			out[r] = resolved{t, err}
		})
	}
	reads.Wait()
	return out
}

// deliver makes one attempt to the recipient's target and records its
// outcome.
func (d *Dispatcher) deliver(ctx context.Context, j *job, r resolved) {
	log := d.log.With("event", j.eventID, "recipient", j.recipient, "attempts", j.attempts)
	t, err := r.target, r.err
	if err != nil {
		// Not the endpoint's failure: the attempt does not count.
		log.Warn("webhook settings unavailable", "error", err)
		d.record(ctx, log, j, `attempts = attempts - 1, process_at = now() + $3::bigint * interval '1 millisecond'`, time.Second.Milliseconds())
		return
	}
	if j.attempts > t.maxRetry {
		d.record(ctx, log, j, `attempts = attempts - 1, process_at = NULL, error = coalesce(error, 'WEBHOOK_MAX_RETRY reached')`)
		return
	}
	if lease := t.timeout + leaseMargin; lease > leaseMin {
		d.record(ctx, log, j, `process_at = now() + $3::bigint * interval '1 millisecond'`, lease.Milliseconds())
	}
	status, err := d.post(ctx, t, j)
	if ctx.Err() != nil {
		// Stopping: the attempt was cut short, and is made again when its
		// lease ends.
		return
	}
	d.attempted(j.recipient, err == nil)
	o := &outcome{job: j}
	if err == nil {
		o.status = http.StatusOK
	} else {
		if errors.Is(err, errNoURL) {
			// Nothing to send to yet (Rafiki requires WEBHOOK_URL): the
			// attempts count, so that a URL set soon still gets the event,
			// without a warning for each.
			log.Debug("webhook request failed", "error", err)
		} else {
			log.Warn("webhook request failed", "error", err)
		}
		msg := err.Error()
		if len(msg) > errorLengthMax {
			msg = strings.ToValidUTF8(msg[:errorLengthMax], "")
		}
		o.status, o.err, o.maxRetry, o.wait = status, &msg, t.maxRetry, Backoff(d.cfg.RetryStep, j.attempts)
	}
	// The slot frees without waiting for the outcome to be stored: the
	// delivery stays leased until it is, so no other attempt starts
	// meanwhile. Run stores every outcome before it returns.
	d.outcomes <- o
}

// errNoURL is the failure of an attempt for a recipient without a
// WEBHOOK_URL, its own or the operator's.
var errNoURL = errors.New("no WEBHOOK_URL")

// post sends the event; it answers the response's status, and an error
// unless it is 200.
func (d *Dispatcher) post(ctx context.Context, t target, j *job) (int, error) {
	if t.url == "" {
		return 0, errNoURL
	}
	if j.data == nil {
		return 0, errors.New("webhook event not in the read model")
	}
	data := j.data
	if d.cfg.Reveal != nil {
		var err error
		if data, err = d.cfg.Reveal(ctx, j.eventType, data); err != nil {
			return 0, fmt.Errorf("open the event's data: %w", err)
		}
	}
	body, err := Body(j.eventID, j.eventType, data)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if d.cfg.SignatureSecret != "" {
		req.Header.Set("Rafiki-Signature", Signature(d.cfg.SignatureSecret, d.cfg.SignatureVersion, time.Now(), body))
	}
	res, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, responseBodyMax))
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, fmt.Errorf("answered %d", res.StatusCode)
	}
	return res.StatusCode, nil
}

// record updates the delivery with set (its parameters from $3 on).
func (d *Dispatcher) record(ctx context.Context, log *slog.Logger, j *job, set string, args ...any) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseMargin)
	defer cancel()
	_, err := d.pool.Exec(ctx, `UPDATE webhook_deliveries SET `+set+`, updated_at = now()
		WHERE event_id = $1 AND recipient_tenant_id = $2`, append([]any{j.eventID, j.recipient}, args...)...)
	if err != nil {
		// The lease ends and the delivery is attempted again.
		log.Warn("webhook outcome not recorded", "error", err)
	}
}

// outcome is an attempt's result to record: status 200 and no err when
// delivered; else the status (0 for none) and the error, and the attempt
// is made again after wait unless it was the maxRetry-th.
type outcome struct {
	job      *job
	status   int
	err      *string
	maxRetry int
	wait     time.Duration
}

// outcomesMax is how many outcomes one statement records at most.
const outcomesMax = 256

// outcomesGather is how long the recorder waits for more outcomes after
// the first: the deliveries stay leased meanwhile, and one commit for many
// deliveries rather than one each is most of what recording costs.
const outcomesGather = 2 * time.Millisecond

// recordOutcomes records the attempts' outcomes until the channel closes,
// those that arrived within outcomesGather of the first in one statement.
func (d *Dispatcher) recordOutcomes() {
	batch := make([]*outcome, 0, outcomesMax)
	gather := time.NewTimer(outcomesGather)
	for o := range d.outcomes {
		batch = append(batch[:0], o)
		gather.Reset(outcomesGather)
	more:
		for len(batch) < outcomesMax {
			select {
			case o, ok := <-d.outcomes:
				if !ok {
					break more
				}
				batch = append(batch, o)
			case <-gather.C:
				break more
			}
		}
		d.recordBatch(batch)
	}
}

func (d *Dispatcher) recordBatch(batch []*outcome) {
	n := len(batch)
	events, recipients := make([]string, n), make([]string, n)
	statuses, errs := make([]*int32, n), make([]*string, n)
	maxRetries, waits := make([]int32, n), make([]int64, n)
	for i, o := range batch {
		events[i], recipients[i], errs[i] = o.job.eventID, o.job.recipient, o.err
		if o.status != 0 {
			statuses[i] = new(int32(o.status))
		}
		maxRetries[i], waits[i] = int32(o.maxRetry), o.wait.Milliseconds()
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaseMargin)
	defer cancel()
	b := &pgx.Batch{}
	b.Queue(sqlLookUpByIndex)
	b.Queue(`UPDATE webhook_deliveries d SET status_code = o.status, error = o.error,
			delivered_at = CASE WHEN o.error IS NULL THEN now() ELSE d.delivered_at END,
			process_at = CASE WHEN o.error IS NULL OR d.attempts >= o.max_retry THEN NULL
				ELSE now() + o.wait_ms * interval '1 millisecond' END,
			updated_at = now()
		FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::int[], $6::bigint[])
			AS o(event_id, recipient, status, error, max_retry, wait_ms)
		WHERE d.event_id = o.event_id AND d.recipient_tenant_id = o.recipient`,
		events, recipients, statuses, errs, maxRetries, waits)
	if err := d.pool.SendBatch(ctx, b).Close(); err != nil {
		// The leases end and the deliveries are attempted again.
		d.log.Warn("webhook outcomes not recorded", "deliveries", n, "error", err)
	}
}
