package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/testkit"
)

func openStore(t testing.TB, syncAlways bool) *eventstore.Store {
	t.Helper()
	n := testkit.StartNATS(t, syncAlways)
	s, err := eventstore.Open(context.Background(), n.JS, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func msg(subject, id string, expected uint64) eventstore.Message {
	return eventstore.Message{Subject: subject, MsgID: id, ExpectedSequence: expected,
		Data: fmt.Appendf(nil, `{"id":%q,"type":"test.event","data":{}}`, events.DeriveID(id, 0))}
}

func TestAppendConcurrentWritersExactlyOneWins(t *testing.T) {
	s := openStore(t, false)
	ctx := context.Background()
	const subject = "events.t1.test.agg1"
	seqs, err := s.Append(ctx, []eventstore.Message{msg(subject, "first", 0)})
	if err != nil {
		t.Fatal(err)
	}
	version := seqs[0]

	const writers = 50
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Append(ctx, []eventstore.Message{msg(subject, fmt.Sprintf("w%d", i), version)})
		})
	}
	close(start)
	wg.Wait()
	wins, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, eventstore.ErrConflict):
			conflicts++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 || conflicts != writers-1 {
		t.Fatalf("wins=%d conflicts=%d, want 1 and %d", wins, conflicts, writers-1)
	}
	evs, v, err := s.Load(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || v <= version {
		t.Fatalf("loaded %d events at version %d, want 2 after %d", len(evs), v, version)
	}
}

func TestAppendRetryWithSameMessageIDIsStoredOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch bool
	}{{"single", false}, {"batch", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, false)
			ctx := context.Background()
			subject := "events.t1.test.retry"
			claim := "claims.t1.test.retry-claim"
			write := []eventstore.Message{msg(subject, "e1", 0)}
			if tc.batch {
				write = append(write, msg(claim, "c1", 0))
			}
			first, err := s.Append(ctx, write)
			if err != nil {
				t.Fatal(err)
			}
			again, err := s.Append(ctx, write)
			if err != nil {
				t.Fatalf("retry of a successful append: %v", err)
			}
			if fmt.Sprint(first) != fmt.Sprint(again) {
				t.Fatalf("retry reported sequences %v, first append %v", again, first)
			}
			evs, _, err := s.Load(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 {
				t.Fatalf("stored %d events, want 1", len(evs))
			}
			// A different write at the same expectation is a real conflict.
			_, err = s.Append(ctx, []eventstore.Message{msg(subject, "other", 0)})
			if !errors.Is(err, eventstore.ErrConflict) {
				t.Fatalf("got %v, want a conflict", err)
			}
		})
	}
}

func TestAppendRetryAfterLaterEventsStillSucceeds(t *testing.T) {
	s := openStore(t, false)
	ctx := context.Background()
	subject := "events.t1.test.later"
	first, err := s.Append(ctx, []eventstore.Message{msg(subject, "a", 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []eventstore.Message{msg(subject, "b", first[0])}); err != nil {
		t.Fatal(err)
	}
	again, err := s.Append(ctx, []eventstore.Message{msg(subject, "a", 0)})
	if err != nil || again[0] != first[0] {
		t.Fatalf("retry of the first append: %v %v, want sequence %d", again, err, first[0])
	}
}

func TestAppendGroupCommitKeepsEachRequestsOutcome(t *testing.T) {
	s := openStore(t, true)
	ctx := context.Background()
	const aggregates = 300
	var wg sync.WaitGroup
	seqs := make([][]uint64, aggregates)
	errs := make([]error, aggregates)
	for i := range aggregates {
		wg.Go(func() {
			subject := fmt.Sprintf("events.t1.test.g%d", i)
			seqs[i], errs[i] = s.Append(ctx, []eventstore.Message{
				msg(subject, fmt.Sprintf("g%d-0", i), 0),
				msg(subject, fmt.Sprintf("g%d-1", i), 0),
			})
		})
	}
	// A conflicting writer among them must fail alone.
	wg.Go(func() {
		time.Sleep(time.Millisecond)
		_, err := s.Append(ctx, []eventstore.Message{msg("events.t1.test.g0", "intruder", 999999)})
		if !errors.Is(err, eventstore.ErrConflict) {
			t.Errorf("intruder: got %v, want conflict", err)
		}
	})
	wg.Wait()
	seen := map[uint64]bool{}
	for i := range aggregates {
		if errs[i] != nil {
			t.Fatalf("aggregate %d: %v", i, errs[i])
		}
		if seqs[i][1] != seqs[i][0]+1 {
			t.Fatalf("aggregate %d: sequences %v not contiguous", i, seqs[i])
		}
		evs, v, err := s.Load(ctx, fmt.Sprintf("events.t1.test.g%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || v != seqs[i][1] || evs[0].Sequence != seqs[i][0] {
			t.Fatalf("aggregate %d: loaded %d events at %d, appended %v", i, len(evs), v, seqs[i])
		}
		for _, q := range seqs[i] {
			if seen[q] {
				t.Fatalf("sequence %d reported twice", q)
			}
			seen[q] = true
		}
	}
}

func TestAppendRejectsEmptyAndOversized(t *testing.T) {
	s := openStore(t, false)
	if _, err := s.Append(context.Background(), nil); err == nil {
		t.Fatal("empty append accepted")
	}
	big := make([]eventstore.Message, 1001)
	if _, err := s.Append(context.Background(), big); err == nil {
		t.Fatal("oversized append accepted")
	}
}

// An append may check another subject than the one it writes: writers of
// the same aggregate id under different tenants race, and one wins, even
// when their appends are grouped with ordinary ones.
func TestAppendExpectedSubjectIsCheckedAcrossSubjects(t *testing.T) {
	s := openStore(t, true)
	ctx := context.Background()
	const writers = 40
	var wg sync.WaitGroup
	claimErrs := make([]error, writers)
	claimSeqs := make([]uint64, writers)
	plainErrs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			m := msg(fmt.Sprintf("events.t%d.test.same", i), fmt.Sprintf("claim%d", i), 0)
			m.ExpectedSubject = "events.*.test.same"
			var seqs []uint64
			seqs, claimErrs[i] = s.Append(ctx, []eventstore.Message{m})
			if claimErrs[i] == nil {
				claimSeqs[i] = seqs[0]
			}
		})
		wg.Go(func() {
			<-start
			_, plainErrs[i] = s.Append(ctx, []eventstore.Message{msg(fmt.Sprintf("events.t%d.test.other%d", i, i), fmt.Sprintf("plain%d", i), 0)})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range claimErrs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, eventstore.ErrConflict):
			t.Fatalf("writer %d: unexpected error %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	for i, err := range plainErrs {
		if err != nil {
			t.Fatalf("ordinary append %d: %v", i, err)
		}
	}
	// The winner's retry is recognised as its own earlier success.
	m := msg(fmt.Sprintf("events.t%d.test.same", winner), fmt.Sprintf("claim%d", winner), 0)
	m.ExpectedSubject = "events.*.test.same"
	seqs, err := s.Append(ctx, []eventstore.Message{m})
	if err != nil || seqs[0] != claimSeqs[winner] {
		t.Fatalf("retry of the winner: %v %v, want sequence %d", seqs, err, claimSeqs[winner])
	}
	// A loser's retry is still a conflict.
	loser := (winner + 1) % writers
	m = msg(fmt.Sprintf("events.t%d.test.same", loser), fmt.Sprintf("claim%d", loser), 0)
	m.ExpectedSubject = "events.*.test.same"
	if _, err := s.Append(ctx, []eventstore.Message{m}); !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("retry of a loser: %v, want a conflict", err)
	}
}

// Last finds the last message of a subject, by name or by pattern, and
// reports an empty subject as not found.
func TestLast(t *testing.T) {
	s := openStore(t, false)
	ctx := context.Background()
	seqs, err := s.Append(ctx, []eventstore.Message{msg("events.t1.thing.a", "last-1", 0)})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Append(ctx, []eventstore.Message{msg("events.t1.thing.a", "last-2", seqs[0])})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []eventstore.Message{msg("events.t1.thing.b", "last-3", 0)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		subject string
		found   bool
		seq     uint64
		id      string
	}{
		{"events.t1.thing.a", true, second[0], "last-2"},
		{"events.*.thing.a", true, second[0], "last-2"},
		{"events.t1.thing.c", false, 0, ""},
		{"events.*.other.a", false, 0, ""},
	} {
		data, seq, found, err := s.Last(ctx, c.subject)
		if err != nil || found != c.found || seq != c.seq {
			t.Errorf("Last(%s) = seq %d found %v err %v, want seq %d found %v", c.subject, seq, found, err, c.seq, c.found)
			continue
		}
		if c.found {
			env, err := events.Unmarshal(data, seq)
			if err != nil || env.ID != events.DeriveID(c.id, 0) {
				t.Errorf("Last(%s) answered %s (%v), want the message of %s", c.subject, data, err, c.id)
			}
		}
	}
}

// LastSequences reads the last sequence of several subjects at once; an
// empty one is absent.
func TestLastSequences(t *testing.T) {
	s := openStore(t, false)
	ctx := context.Background()
	a, err := s.Append(ctx, []eventstore.Message{msg("events.t1.thing.a", "seqs-1", 0)})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := s.Append(ctx, []eventstore.Message{msg("events.t1.thing.a", "seqs-2", a[0])})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Append(ctx, []eventstore.Message{msg("events.t1.thing.b", "seqs-3", 0)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LastSequences(ctx, []string{"events.t1.thing.a", "events.t1.thing.b", "events.t1.thing.c"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"events.t1.thing.a": a2[0], "events.t1.thing.b": b[0]}
	if len(got) != len(want) || got["events.t1.thing.a"] != want["events.t1.thing.a"] || got["events.t1.thing.b"] != want["events.t1.thing.b"] {
		t.Fatalf("LastSequences = %v, want %v", got, want)
	}
}

// Load reads every event of a subject, across the server's batches and past
// other subjects' events, and loads running at once each get their own.
func TestLoad(t *testing.T) {
	s := openStore(t, false)
	ctx := context.Background()
	const eventsN = 2_500 // more than one batch of the server's answers
	var version, otherVersion uint64
	var sequences []uint64
	for i := range eventsN {
		seqs, err := s.Append(ctx, []eventstore.Message{msg("events.t1.thing.a", fmt.Sprint("load-", i), version)})
		if err != nil {
			t.Fatal(err)
		}
		version = seqs[0]
		sequences = append(sequences, version)
		if i%10 == 0 {
			seqs, err := s.Append(ctx, []eventstore.Message{msg("events.t1.thing.b", fmt.Sprint("other-", i), otherVersion)})
			if err != nil {
				t.Fatal(err)
			}
			otherVersion = seqs[0]
		}
	}
	check := func(from uint64, want []uint64) error {
		envs, v, err := s.LoadAfter(ctx, "events.t1.thing.a", from)
		if err != nil {
			return err
		}
		wantVersion := from
		if len(want) > 0 {
			wantVersion = want[len(want)-1]
		}
		if len(envs) != len(want) || v != wantVersion {
			return fmt.Errorf("after %d: %d events at version %d, want %d at %d", from, len(envs), v, len(want), wantVersion)
		}
		for i, env := range envs {
			if env.Sequence != want[i] {
				return fmt.Errorf("after %d: event %d at sequence %d, want %d", from, i, env.Sequence, want[i])
			}
		}
		return nil
	}
	if err := check(0, sequences); err != nil {
		t.Fatal(err)
	}
	if err := check(sequences[1999], sequences[2000:]); err != nil {
		t.Fatal(err)
	}
	if err := check(version, nil); err != nil {
		t.Fatal(err)
	}
	if envs, v, err := s.Load(ctx, "events.t1.thing.none"); err != nil || len(envs) != 0 || v != 0 {
		t.Fatalf("an empty subject: %d events at %d, %v", len(envs), v, err)
	}
	if got, err := s.LastSequences(ctx, []string{"events.t1.thing.none", "events.t1.thing.nothing"}); err != nil || len(got) != 0 {
		t.Fatalf("LastSequences of empty subjects = %v, %v", got, err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Load(canceled, "events.t1.thing.a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a load whose context is done: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			from := sequences[eventsN-1-i]
			if err := check(from, sequences[eventsN-i:]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
