// Package handlers holds what every command handler shares: loading an
// aggregate by folding its events, sealing decided events into store
// messages, and retrying a decision that lost a race. Each aggregate lives in
// its own subpackage: state.go (the state and evolve), one file per command
// (decide, a pure function of state and command), and the glue.
package handlers

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/valid"
)

// Store is what handlers need of the event store.
type Store interface {
	Append(ctx context.Context, messages []eventstore.Message) ([]uint64, error)
	Load(ctx context.Context, subject string) ([]events.Envelope, uint64, error)
	LoadAfter(ctx context.Context, subject string, from uint64) ([]events.Envelope, uint64, error)
	Last(ctx context.Context, subject string) (data []byte, sequence uint64, found bool, err error)
	// LastSequences is the last sequence of each of several literal
	// subjects, in one request where the store can; empty ones are absent.
	LastSequences(ctx context.Context, subjects []string) (map[string]uint64, error)
}

// isAggregateType tells whether t is an aggregate type as code names one:
// a lower-case letter, then lower-case letters and underscores.
func isAggregateType(t string) bool {
	if t == "" || t[0] == '_' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if (t[i] < 'a' || t[i] > 'z') && t[i] != '_' {
			return false
		}
	}
	return true
}

// Subject is where one aggregate's events live. Its tokens must be canonical
// UUIDs and an aggregate type: commands check their ids first, and this
// refuses any that slipped through, since a token such as "*", ">" or "a.b"
// would make a subject that matches many aggregates or none.
func Subject(tenantID, aggregateType, id string) (string, error) {
	if !valid.IsID(tenantID) {
		return "", apperr.E(apperr.InvalidInput, "invalid tenant id %q", tenantID)
	}
	if !valid.IsID(id) {
		return "", apperr.E(apperr.InvalidInput, "invalid %s id %q", aggregateType, id)
	}
	if !isAggregateType(aggregateType) {
		return "", fmt.Errorf("subject of aggregate type %q", aggregateType)
	}
	return "events." + tenantID + "." + aggregateType + "." + id, nil
}

// AnyTenantSubject finds an aggregate whose tenant is not known; aggregateType
// may be "*" for any type.
func AnyTenantSubject(aggregateType, id string) (string, error) {
	if !valid.IsID(id) {
		return "", apperr.E(apperr.InvalidInput, "invalid %s id %q", aggregateType, id)
	}
	if aggregateType != "*" && !isAggregateType(aggregateType) {
		return "", fmt.Errorf("subject of aggregate type %q", aggregateType)
	}
	return "events.*." + aggregateType + "." + id, nil
}

// ClaimSubject is where a unique key is claimed. The key is hex-encoded so
// that any value makes a valid subject token.
// The key is unique within a tenant, whose id must be a canonical UUID.
func ClaimSubject(tenantID, kind, key string) (string, error) {
	if !valid.IsID(tenantID) {
		return "", apperr.E(apperr.InvalidInput, "invalid tenant id %q", tenantID)
	}
	return "claims." + tenantID + "." + kind + "." + hex.EncodeToString([]byte(key)), nil
}

// GlobalClaimSubject is where a key unique across tenants is claimed.
func GlobalClaimSubject(kind, key string) string {
	return "claims._." + kind + "." + hex.EncodeToString([]byte(key))
}

// Result is what a successful command reports: the sequence of the last
// event it stored, which readers wait for to see its effect, and the events
// of the aggregate this run of it appended, which an answer can be made of
// instead of read back; none when the result is an earlier run's.
type Result struct {
	Sequence uint64
	Appended []Appended
}

// Appended is an event a command appended: its envelope, sequence set, and
// the event itself.
type Appended struct {
	Envelope events.Envelope
	Event    events.Event
}

// Load folds the events of subject into a state.
func Load[S any](ctx context.Context, store Store, subject string, evolve func(S, events.Envelope, events.Event) S) (S, uint64, error) {
	var state S
	envs, version, err := store.Load(ctx, subject)
	if err != nil {
		return state, 0, err
	}
	state, err = fold(state, envs, evolve)
	return state, version, err
}

// LoadFor loads an aggregate for a command. done is the command's result
// when the aggregate already holds events it caused: the command ran before
// and a retry of it must answer that result instead of deciding again, which
// would append its events a second time once the stream's duplicate window
// has passed, or refuse it because its own first run changed the state (a
// create finding the object it made, a delete finding it gone). A command
// therefore decides once per aggregate: no command appends to one aggregate
// in two steps.
func LoadFor[S any](ctx context.Context, store Store, subject, commandID string, evolve func(S, events.Envelope, events.Event) S) (state S, version uint64, done *Result, err error) {
	envs, version, err := store.Load(ctx, subject)
	if err != nil {
		return state, 0, nil, err
	}
	if res, ok := ranBefore(envs, commandID); ok {
		return state, version, &res, nil
	}
	state, err = fold(state, envs, evolve)
	return state, version, nil, err
}

// loadNew loads the subject a create command makes its aggregate on: done
// is the command's result when it made the aggregate before; an aggregate
// another command made is taken, the error given. Otherwise it answers the
// version to append at.
func loadNew[S any](ctx context.Context, store Store, subject, commandID string, evolve func(S, events.Envelope, events.Event) S,
	exists func(S) bool, taken error) (version uint64, done *Result, err error) {
	// The subject of a new aggregate is almost always empty: its last
	// message is one plain request, where reading its events costs a
	// subscription and a batch. The append still expects it empty.
	if _, _, found, err := store.Last(ctx, subject); err != nil || !found {
		return 0, nil, err
	}
	s, version, done, err := LoadFor(ctx, store, subject, commandID, evolve)
	switch {
	case err != nil || done != nil:
		return version, done, err
	case exists(s):
		return version, nil, taken
	}
	return version, nil, nil
}

// CreateNew runs a create command whose aggregate id is new: attempt
// decides and appends at the version given. The subject of a new aggregate
// is almost always empty, so the first attempt appends expecting it empty
// without reading it; the append's own check refuses it otherwise. Only a
// first attempt that fails reads the subject (loadNew): the command's earlier
// result is answered, an aggregate another command made is the error taken,
// and otherwise the attempt's own outcome stands (a refusal is answered, a
// lost race is decided again, reading the subject before each attempt).
func CreateNew[S any](ctx context.Context, store Store, subject, commandID string, evolve func(S, events.Envelope, events.Event) S,
	exists func(S) bool, taken error, attempt func(version uint64) (Result, error)) (Result, error) {
	res, err := attempt(0)
	if err == nil || ctx.Err() != nil {
		return res, err
	}
	refused := !errors.Is(err, eventstore.ErrConflict)
	return Retry(ctx, func() (Result, error) {
		version, done, lerr := loadNew(ctx, store, subject, commandID, evolve, exists, taken)
		if lerr != nil || done != nil {
			return Done(done), lerr
		}
		if refused {
			return res, err
		}
		return attempt(version)
	})
}

// Done is a command's earlier result, or none.
func Done(r *Result) Result {
	if r == nil {
		return Result{}
	}
	return *r
}

// ranBefore finds the events a command caused among an aggregate's; its
// result is the sequence of the last one.
func ranBefore(envs []events.Envelope, commandID string) (Result, bool) {
	if commandID == "" {
		return Result{}, false
	}
	for i := len(envs) - 1; i >= 0; i-- {
		if envs[i].CausationID == commandID {
			return Result{Sequence: envs[i].Sequence}, true
		}
	}
	return Result{}, false
}

// fold applies stored events to a state.
func fold[S any](state S, envs []events.Envelope, evolve func(S, events.Envelope, events.Event) S) (S, error) {
	for _, env := range envs {
		ev, err := events.Decode(env)
		if err != nil {
			return state, err
		}
		state = evolve(state, env, ev)
	}
	return state, nil
}

// Messages seals events decided by a command into messages for subject,
// expecting the subject to be at version.
func Messages(subject string, version uint64, meta events.Meta, commandID string, firstIndex int, evs ...events.Event) ([]eventstore.Message, error) {
	msgs, _, err := Seal(subject, version, meta, commandID, firstIndex, evs...)
	return msgs, err
}

// Seal is Messages, and the events as they will be appended (Stored sets
// their sequences).
func Seal(subject string, version uint64, meta events.Meta, commandID string, firstIndex int, evs ...events.Event) ([]eventstore.Message, []Appended, error) {
	envs, err := events.Seal(meta, commandID, firstIndex, evs...)
	if err != nil {
		return nil, nil, err
	}
	msgs := make([]eventstore.Message, len(envs))
	appended := make([]Appended, len(envs))
	for i := range envs {
		data, err := events.Marshal(envs[i])
		if err != nil {
			return nil, nil, fmt.Errorf("encode %s: %w", envs[i].Type, err)
		}
		msgs[i] = eventstore.Message{Subject: subject, MsgID: envs[i].ID.String(), Data: data, ExpectedSequence: version}
		appended[i] = Appended{Envelope: envs[i], Event: evs[i]}
	}
	return msgs, appended, nil
}

// Stored is the result of appending sealed events, the last message of the
// append at seqs' last: seqs are the sequences the store gave them.
func Stored(appended []Appended, seqs []uint64) Result {
	for i := range appended {
		appended[i].Envelope.Sequence = seqs[i]
	}
	return Result{Sequence: seqs[len(seqs)-1], Appended: appended}
}

// AppendEvents seals events decided by a command for subject, expecting it
// at version, appends them, and answers the sequence of the last one.
func AppendEvents(ctx context.Context, store Store, subject string, version uint64, meta events.Meta, commandID string, evs ...events.Event) (Result, error) {
	msgs, appended, err := Seal(subject, version, meta, commandID, 0, evs...)
	if err != nil {
		return Result{}, err
	}
	seqs, err := store.Append(ctx, msgs)
	if err != nil {
		return Result{}, err
	}
	return Stored(appended, seqs), nil
}

// Claim is a message that takes a unique key for an aggregate. It is
// appended in the same atomic batch as the aggregate's first event.
func Claim(subject, owner, commandID string) eventstore.Message {
	return eventstore.Message{
		Subject: subject,
		MsgID:   "claim:" + commandID + ":" + subject,
		Data:    []byte(owner),
	}
}

// retriesMax bounds how often a command is decided again after losing a
// race with another writer of the same aggregate. Each race has one winner,
// so a command among n racing writers may lose n - 1 times: this lets a
// few dozen at once through (16 withdrawals of one account, say), each
// waiting a little longer than the last.
const retriesMax = 32

// retryBackoffMax bounds the wait between two tries.
const retryBackoffMax = 16 * time.Millisecond

// ErrContended marks a command that lost every race for its aggregate: it
// was refused for no fault of its own, and may be sent again.
var ErrContended = errors.New("aggregate contended")

// Retry runs attempt again while it reports a conflict; past retriesMax it
// answers Conflict, marked ErrContended. The conflict's own text (subjects,
// the store's error) stays out of the answer.
func Retry(ctx context.Context, attempt func() (Result, error)) (Result, error) {
	for try := range retriesMax {
		res, err := attempt()
		if !errors.Is(err, eventstore.ErrConflict) {
			return res, err
		}
		// Jitter keeps writers that lost together from colliding again.
		backoff := min(time.Duration(try+1)*time.Millisecond, retryBackoffMax) + rand.N(2*time.Millisecond)
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(backoff):
		}
	}
	return Result{}, fmt.Errorf("%w (%w)", apperr.E(apperr.Conflict, "too many concurrent changes, try again"), ErrContended)
}

// Target is the aggregate a command changes.
type Target struct {
	Subject       string
	AggregateType string
	AggregateID   string
	TenantID      string
}

// NewTarget is the aggregate of this type and id under tenantID; both ids
// must be canonical UUIDs (see Subject).
func NewTarget(tenantID, aggregateType, id string) (Target, error) {
	subject, err := Subject(tenantID, aggregateType, id)
	if err != nil {
		return Target{}, err
	}
	return Target{Subject: subject, AggregateType: aggregateType, AggregateID: id, TenantID: tenantID}, nil
}

// Execute loads an aggregate, decides, and appends the decided events
// expecting the version it loaded; on a lost race it does it all again. A
// command that ran before answers its result then and appends nothing.
func Execute[S any](ctx context.Context, store Store, t Target, cmd CommandInfo,
	evolve func(S, events.Envelope, events.Event) S, decide func(S) ([]events.Event, error)) (Result, error) {
	return Retry(ctx, func() (Result, error) {
		state, version, done, err := LoadFor(ctx, store, t.Subject, cmd.ID, evolve)
		if err != nil {
			return Result{}, err
		}
		if done != nil {
			return *done, nil
		}
		evs, err := decide(state)
		if err != nil || len(evs) == 0 {
			return Result{Sequence: version}, err
		}
		return AppendEvents(ctx, store, t.Subject, version, cmd.meta(t), cmd.ID, evs...)
	})
}

// CommandInfo is what events record about the command that caused them.
type CommandInfo struct {
	ID            string
	CorrelationID string
	// Actor is who sent it (events.Envelope.Actor).
	Actor string
}

// Info is what events record of a command sent with m.
func Info(m commands.Meta) CommandInfo {
	return CommandInfo{ID: m.ID, CorrelationID: m.CorrelationID, Actor: m.Actor.TenantID}
}

func (c CommandInfo) meta(t Target) events.Meta {
	return events.Meta{
		AggregateType: t.AggregateType, AggregateID: t.AggregateID, TenantID: t.TenantID,
		CausationID: c.ID, CorrelationID: c.CorrelationID, Actor: c.Actor, Time: time.Now(),
	}
}

// Meta is the event metadata for a command's events on a target.
func Meta(t Target, c CommandInfo) events.Meta { return c.meta(t) }

// Locator answers Locate for one store and remembers what it found: an
// aggregate never changes tenant and its events are never removed, so a
// tenant found once holds. Handlers that locate aggregates on every command
// keep one, which spares a read of the stream for each aggregate seen
// before. Aggregates not found are not remembered.
type Locator struct {
	store   Store
	mu      sync.Mutex
	tenants map[string]string
}

// locatedMax bounds a Locator; when full it starts over.
const locatedMax = 65_536

// NewLocator makes a Locator reading store.
func NewLocator(store Store) *Locator {
	return &Locator{store: store, tenants: map[string]string{}}
}

// Locate is Locate on the locator's store, from memory when it can.
func (l *Locator) Locate(ctx context.Context, aggregateType, id string) (tenantID string, found bool, err error) {
	key := aggregateType + "." + id
	l.mu.Lock()
	tenantID, found = l.tenants[key]
	l.mu.Unlock()
	if found {
		return tenantID, true, nil
	}
	tenantID, found, err = Locate(ctx, l.store, aggregateType, id)
	if err != nil || !found {
		return "", false, err
	}
	l.Remember(aggregateType, id, tenantID)
	return tenantID, true, nil
}

// Remember records the tenant of an aggregate that exists: one a command
// of this process just made, which the next commands find without reading
// the stream.
func (l *Locator) Remember(aggregateType, id, tenantID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.tenants) >= locatedMax {
		clear(l.tenants)
	}
	l.tenants[aggregateType+"."+id] = tenantID
}

// Locate finds the tenant of an aggregate known only by type and id; found
// is false when it has no events. An aggregate never changes tenant.
func Locate(ctx context.Context, store Store, aggregateType, id string) (tenantID string, found bool, err error) {
	subject, err := AnyTenantSubject(aggregateType, id)
	if err != nil {
		return "", false, err
	}
	data, seq, found, err := store.Last(ctx, subject)
	if err != nil || !found {
		return "", false, err
	}
	env, err := events.Unmarshal(data, seq)
	if err != nil {
		return "", false, err
	}
	return env.TenantID, true, nil
}
