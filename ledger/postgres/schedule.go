package postgres

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// Batches in flight at once conflict when they touch a common account: the
// later one waits for the earlier one's row locks until it commits, fsync
// included, so the two run one after the other and each holds a connection
// while it waits. The collector therefore keeps a request out of a batch
// while a batch in flight holds one of its accounts, and sends it with the
// next. This only orders work: the row locks alone keep the ledger right,
// including against other processes and requests whose accounts are not
// known here.

// skipsMax is how many batches may leave without a request before it goes
// whatever its accounts, so that a busy account cannot starve it.
const skipsMax = 2

// legsRememberedMax bounds the pending legs whose accounts a Ledger keeps;
// when full it forgets them all, and their settlements go unscheduled.
const legsRememberedMax = 100_000

// finished tells the collector that a worker is free, and which batch it
// finished (nil at its start).
type finished struct {
	worker chan []*request
	batch  []*request
}

// collect forms batches: it takes requests while every worker is busy and
// hands a free worker all it holds that no batch in flight conflicts with.
// Under load, batches grow by themselves; when idle, a lone request goes at
// once without waiting for company; in between, a free worker waits a
// little for company while the other batch is in flight (lingerFor).
func (l *Ledger) collect() {
	defer func() {
		for _, w := range l.workers {
			close(w)
		}
	}()
	var pending []*request
	idle := make([]chan []*request, 0, len(l.workers))
	held := map[uuid.UUID]int{}
	// blocked: every pending request conflicts with the batches in flight,
	// so until one finishes only a newcomer can go; checking just it keeps
	// a backlog on a busy account from being scanned at every arrival.
	blocked := false
	// linger wakes the loop when the oldest pending request has waited
	// long enough for company (see lingerFor); armed: it is set.
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	armed := false
	for {
		ready := len(idle) > 0 && len(pending) > 0 && !blocked
		if ready {
			if wait := lingerFor(len(l.workers)-len(idle), len(pending), pending[0].arrived, time.Now()); wait > 0 {
				ready = false
				if !armed {
					linger.Reset(wait)
					armed = true
				}
			}
		}
		if ready {
			batch, rest := pick(pending, held)
			if len(batch) > 0 {
				hold(held, batch, 1)
				w := idle[len(idle)-1]
				idle = idle[:len(idle)-1]
				w <- batch // buffered, and the worker's last batch is done
				pending = rest
				continue
			}
			blocked = true
		}
		queue := l.queue
		if len(pending) >= queueRequestsMax {
			queue = nil // full: wait for a worker only
		}
		select {
		case r := <-queue:
			r.arrived = time.Now()
			pending = append(pending, r)
			blocked = blocked && conflicts(r, held)
		case <-linger.C:
			armed = false
		case f := <-l.ready:
			hold(held, f.batch, -1)
			idle = append(idle, f.worker)
			blocked = false
		case <-l.closing:
			l.drain(pending)
			return
		}
	}
}

// lingerFor is how long a free worker waits before it takes a batch. With
// no batch in flight it goes at once: a lone request is not delayed. With
// one in flight, it waits until lingerRequestsMin requests are pending or
// the oldest has waited lingerMaxUs (or the batch in flight finishes), so
// that under a steady load batches are not tiny: each costs about as much
// Postgres and Go work as a dozen transfers, whatever its size.
func lingerFor(inFlight, pending int, oldest, now time.Time) time.Duration {
	if inFlight == 0 || pending >= lingerRequestsMin {
		return 0
	}
	return max(0, oldest.Add(lingerMaxUs*time.Microsecond).Sub(now))
}

// pick takes, in arrival order and up to batchRequestsMax, the requests
// whose accounts no batch in flight holds, and those skipped too often.
func pick(pending []*request, held map[uuid.UUID]int) (batch, rest []*request) {
	for _, r := range pending {
		if len(batch) < batchRequestsMax && (r.skipped >= skipsMax || !conflicts(r, held)) {
			batch = append(batch, r)
		} else {
			rest = append(rest, r)
		}
	}
	if len(batch) > 0 {
		for _, r := range rest {
			r.skipped++
		}
	}
	return batch, rest
}

func conflicts(r *request, held map[uuid.UUID]int) bool {
	for _, a := range r.accounts {
		if held[a] > 0 {
			return true
		}
	}
	return false
}

// hold counts a batch's accounts in (delta 1) or out (-1) of the held set.
func hold(held map[uuid.UUID]int, batch []*request, delta int) {
	for _, r := range batch {
		for _, a := range r.accounts {
			if held[a] += delta; held[a] <= 0 {
				delete(held, a)
			}
		}
	}
}

func (l *Ledger) work(batches chan []*request) {
	l.ready <- finished{worker: batches}
	for batch := range batches {
		l.apply(batch)
		// Never blocks: each worker has at most one message in ready,
		// whose capacity is the number of workers.
		l.ready <- finished{worker: batches, batch: batch}
	}
}

// legAccounts remembers the accounts of the pending legs this Ledger
// created, so that their settlement is scheduled by account too.
type legAccounts struct {
	mu    sync.Mutex
	byLeg map[uuid.UUID][2]uuid.UUID
}

// accountsOf lists the accounts a batch locks for op, as far as known.
func (k *legAccounts) accountsOf(op *operation) []uuid.UUID {
	var out []uuid.UUID
	if op.kind == kindCreate {
		for _, lg := range op.legs {
			out = append(out, lg.debit, lg.credit)
		}
		return out
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range op.ids {
		if accounts, ok := k.byLeg[id]; ok {
			out = append(out, accounts[0], accounts[1])
		}
	}
	return out
}

// addAccounts adds to accounts (deduplicated) those of the legs ids, when
// it knows them all; all is false, and accounts unchanged, when it does
// not.
func (k *legAccounts) addAccounts(accounts, ids []uuid.UUID) (out []uuid.UUID, all bool) {
	if len(ids) == 0 {
		return accounts, true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range ids {
		if _, ok := k.byLeg[id]; !ok {
			return accounts, false
		}
	}
	seen := make(map[uuid.UUID]bool, len(accounts)+2*len(ids))
	for _, a := range accounts {
		seen[a] = true
	}
	out = accounts
	for _, id := range ids {
		for _, a := range k.byLeg[id] {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out, true
}

// remember records the pending legs of the creates that succeeded and
// forgets the legs of settlements, whatever their outcome.
func (k *legAccounts) remember(ops []*operation, errs []error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, op := range ops {
		switch {
		case op.kind == kindCreate && errs[i] == nil:
			for _, lg := range op.legs {
				if lg.timeout == 0 {
					continue
				}
				if len(k.byLeg) >= legsRememberedMax {
					clear(k.byLeg)
				}
				k.byLeg[lg.id] = [2]uuid.UUID{lg.debit, lg.credit}
			}
		case op.kind == kindPost || op.kind == kindVoid:
			for _, id := range op.ids {
				delete(k.byLeg, id)
			}
		}
	}
}

// drain fails the requests not yet handed to a worker.
func (l *Ledger) drain(pending []*request) {
	for _, r := range pending {
		r.done <- ErrClosed
	}
	for range queueRequestsMax {
		select {
		case r := <-l.queue:
			r.done <- ErrClosed
		default:
			return
		}
	}
}

// knownAccountsMax bounds the account ids a Ledger remembers as existing;
// when full it forgets them all and looks them up again.
const knownAccountsMax = 100_000

// knownAccounts remembers accounts that exist. Accounts are never deleted,
// so a batch need not look up again an account a batch before it found.
type knownAccounts struct {
	mu  sync.Mutex
	ids map[uuid.UUID]struct{}
}

// filter returns the ids not known yet and marks the others in known.
func (k *knownAccounts) filter(ids []uuid.UUID, known map[uuid.UUID]bool) []uuid.UUID {
	k.mu.Lock()
	defer k.mu.Unlock()
	var unknown []uuid.UUID
	for _, id := range ids {
		if _, ok := k.ids[id]; ok {
			known[id] = true
		} else {
			unknown = append(unknown, id)
		}
	}
	return unknown
}

// add remembers the accounts a batch locked or found, but for those it
// opens, which a rolled-back batch leaves unmade.
func (k *knownAccounts) add(snap *snapshot) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.ids)+len(snap.accounts)+len(snap.known) > knownAccountsMax {
		clear(k.ids)
	}
	for _, a := range snap.accounts {
		if !snap.opened[a.id] {
			k.ids[a.id] = struct{}{}
		}
	}
	for id := range snap.known {
		k.ids[id] = struct{}{}
	}
}
