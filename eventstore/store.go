// Package eventstore keeps events in a JetStream stream: one subject per
// aggregate, optimistic concurrency through the expected last subject
// sequence, de-duplication through message ids, and group commit of
// concurrent appends into atomic batches so that one fsync serves many.
package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/streams"
)

const (
	// The server rejects atomic batches of more than 1,000 messages
	// (nats-server stream.go, streamMaxBatchSize).
	batchMessagesMax = 1000
	// How many requests one group commit may hold; a request is one
	// command's messages, so a batch stays below batchMessagesMax.
	groupRequestsMax = 200
	// Groups up to this many one-message requests are published as
	// separate messages in flight together rather than as an atomic batch.
	// Each such message is written with its own fsync (200 – 270 µs of the
	// 2-core VM's CPU); a batch's staging costs 1.8 – 4.5 ms whatever its
	// size, and more wall time than the messages one by one below 24. The
	// two meet at 24 – 32 messages on that VM.
	pipelineRequestsMax = 24
	// The queue of appends waiting for a group commit.
	queueLengthMax = 4096
	// Concurrent group commits. One: while a batch is in flight the next
	// group gathers, so groups grow with load. On an R1 file stream the
	// server stages every atomic batch in a temporary file store of its own
	// (directory, metadata written with O_SYNC, fsync, removal), whatever
	// the sync setting, so batches per second are what runs out and fewer,
	// larger batches carry more events: with 256 concurrent appends on the
	// 2-core VM, one committer gave about twice the events/s of four
	// (BENCHMARKS.md).
	committersDefault = 1
	// How long a group waits for its acknowledgements from a stream of one
	// replica before its requests go one by one; a replicated stream's
	// group waits streams.AttemptTimeout.
	groupTimeoutOneReplica = 10 * time.Second
	loadBatchSize          = 1000
	loadMessagesMax        = 1_000_000
	// Requests of a refused group committed one by one at the same time.
	eachInFlightMax = 32
	// A retry refused because its first attempt is still in process
	// (codeDuplicateInProcess) is sent again this often, this far apart.
	inProcessRetriesMax = 20
	inProcessRetryWait  = 50 * time.Millisecond
	// How long a read from the stream's leader may take when the caller
	// set no deadline.
	leaderGetTimeout       = 5 * time.Second
	codeDuplicateInProcess = 10158
)

// Message is one message to append.
type Message struct {
	Subject string
	MsgID   string
	Data    []byte
	// ExpectedSequence is the stream sequence of the subject's last message
	// that the writer saw; 0 means the subject must be empty.
	ExpectedSequence uint64
	// ExpectedSubject, when set, is the subject (wildcards allowed) whose
	// last message ExpectedSequence is checked against instead of Subject:
	// with 0 it makes "no aggregate of this id under any tenant" a check
	// the server does at the append. A request with such a message is
	// never combined with others into an atomic batch, because inside a
	// batch the server tracks only the literal subjects being written.
	ExpectedSubject string
}

// ConflictError reports that a subject moved on since the writer read it.
type ConflictError struct {
	Subject string
	Cause   error
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("append conflict on %s: %v", e.Subject, e.Cause)
}

// ErrConflict matches every ConflictError with errors.Is.
var ErrConflict = errors.New("append conflict")

func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Store appends to and reads from the events stream.
type Store struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	name   string
	// replicated is whether the stream had followers when the store was
	// opened: only then must reads of one's own writes go to its leader.
	replicated bool
	queue      chan *request
	done       chan struct{}
	link       *link
	gets       *directGets
	// writable, when set, fails while the server could not store a write
	// (see WithWriteCheck).
	writable func() error
}

type request struct {
	ctx      context.Context
	messages []Message
	result   chan result
}

type result struct {
	sequences []uint64
	err       error
}

// Option changes how a store is opened.
type Option func(*Store)

// WithWriteCheck has every append ask check first, and fail with its error
// at once instead of waiting for an acknowledgement the server would not
// send: a server embedded in this process knows when its disk is full.
func WithWriteCheck(check func() error) Option {
	return func(s *Store) { s.writable = check }
}

// Open binds a store to an existing stream and starts its committers.
func Open(ctx context.Context, js jetstream.JetStream, streamName string, opts ...Option) (*Store, error) {
	stream, err := js.Stream(ctx, streamName)
	if err != nil {
		return nil, fmt.Errorf("open event stream %s: %w", streamName, err)
	}
	cfg := stream.CachedInfo().Config
	if !cfg.AllowAtomicPublish || !cfg.AllowDirect {
		return nil, fmt.Errorf("open event stream %s: needs allow_atomic and allow_direct", streamName)
	}
	s := &Store{
		js:         js,
		stream:     stream,
		name:       streamName,
		replicated: cfg.Replicas > 1,
		queue:      make(chan *request, queueLengthMax),
		done:       make(chan struct{}),
		link:       newLink(),
		gets:       newDirectGets(js.Conn(), streamName),
	}
	for _, o := range opts {
		o(s)
	}
	s.link.follow(js.Conn(), s.done)
	for range committersDefault {
		go s.commitLoop()
	}
	return s, nil
}

// Close stops the committers; appends after Close fail.
func (s *Store) Close() { close(s.done) }

// Stream is the name of the stream the store writes to.
func (s *Store) Stream() string { return s.name }

// JetStream exposes the connection the store uses, for readers of the stream.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Append stores the messages atomically: all or none. It returns the stream
// sequence of each. A retry of an append that already succeeded reports
// success with the original sequences.
func (s *Store) Append(ctx context.Context, messages []Message) ([]uint64, error) {
	if len(messages) == 0 || len(messages) > batchMessagesMax {
		return nil, fmt.Errorf("append: %d messages, want 1 to %d", len(messages), batchMessagesMax)
	}
	if err := s.reachable(); err != nil {
		return nil, fmt.Errorf("append %s: %w", messages[0].Subject, err)
	}
	if s.writable != nil {
		if err := s.writable(); err != nil {
			return nil, fmt.Errorf("append %s: %w", messages[0].Subject, err)
		}
	}
	req := &request{ctx: ctx, messages: messages, result: make(chan result, 1)}
	select {
	case s.queue <- req:
	case <-ctx.Done():
		return nil, fmt.Errorf("append %s: %w", messages[0].Subject, ctx.Err())
	case <-s.done:
		return nil, fmt.Errorf("append %s: store closed", messages[0].Subject)
	}
	select {
	case r := <-req.result:
		return r.sequences, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("append %s: %w", messages[0].Subject, ctx.Err())
	}
}

// reachable fails at once while the connection to the server is down: a
// request would only wait in the client's reconnect buffer until its
// deadline.
func (s *Store) reachable() error {
	if status := s.js.Conn().Status(); status != nats.CONNECTED {
		return apperr.E(apperr.Unavailable, "The event store is not reachable (NATS connection %s): nothing was read or stored. Retry later.",
			strings.ToLower(status.String()))
	}
	return nil
}

func (s *Store) commitLoop() {
	for {
		var first *request
		select {
		case first = <-s.queue:
		case <-s.done:
			return
		}
		group := []*request{first}
		size := len(first.messages)
	drain:
		for len(group) < groupRequestsMax {
			select {
			case next := <-s.queue:
				if size+len(next.messages) > batchMessagesMax {
					s.commitGroup(group)
					group, size = nil, 0
				}
				group = append(group, next)
				size += len(next.messages)
			default:
				break drain
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup writes the requests as one atomic batch. When the server
// refuses the batch, it does not say which request failed: the store then
// reads the last sequence of every subject the group writes, commits the
// requests whose expectations still hold as one batch again, and commits the
// others one by one, several at a time (commitEach), so that one stale
// writer costs one extra batch rather than a round trip for every request of
// the group.
func (s *Store) commitGroup(group []*request) {
	group = s.commitApart(group)
	if len(group) == 0 {
		return
	}
	if len(group) == 1 {
		r := group[0]
		seqs, err := s.commitOne(r.ctx, r.messages)
		r.result <- result{seqs, err}
		return
	}
	if len(group) <= pipelineRequestsMax && singleMessages(group) {
		s.commitPipelined(group)
		return
	}
	if s.commitBatch(group) == nil {
		return
	}
	fresh, rest := s.partition(group)
	if len(fresh) > 1 && s.commitBatch(fresh) == nil {
		group = rest
	}
	s.commitEach(group)
}

// commitEach commits requests one by one, up to eachInFlightMax at once.
// They are independent, and the server orders those that write one subject;
// one after another they would hold the committer for a round trip and an
// fsync each, so that a burst of conflicting writers (most of whom are
// refused) could keep every other append waiting past its deadline.
func (s *Store) commitEach(group []*request) {
	slots := make(chan struct{}, eachInFlightMax)
	var wg sync.WaitGroup
	for _, r := range group {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			seqs, err := s.commitOne(r.ctx, r.messages)
			r.result <- result{seqs, err}
		})
	}
	wg.Wait()
}

// commitApart commits the requests that check another subject than the one
// they write (ExpectedSubject) outside any atomic batch, and returns the
// others. One-message ones go as pipelined publishes, which the server checks
// one after another; longer ones alone.
func (s *Store) commitApart(group []*request) []*request {
	var rest, pipelined []*request
	for _, r := range group {
		switch {
		case !checksOtherSubject(r.messages):
			rest = append(rest, r)
		case len(r.messages) == 1:
			pipelined = append(pipelined, r)
		default:
			seqs, err := s.commitOne(r.ctx, r.messages)
			r.result <- result{seqs, err}
		}
	}
	if len(pipelined) > 0 {
		s.commitPipelined(pipelined)
	}
	return rest
}

func checksOtherSubject(messages []Message) bool {
	for _, m := range messages {
		if m.ExpectedSubject != "" {
			return true
		}
	}
	return false
}

// singleMessages tells whether every request of a group is one message.
func singleMessages(group []*request) bool {
	for _, r := range group {
		if len(r.messages) != 1 {
			return false
		}
	}
	return true
}

// commitPipelined publishes a small group of one-message requests as
// separate publishes in flight together: they need no atomicity between
// them, and an atomic batch has a fixed cost on the server (it stages the
// batch in a store of its own) that small groups do not earn back. A
// request whose publish fails goes the one-by-one way, which tells a lost
// acknowledgement from a conflict.
func (s *Store) commitPipelined(group []*request) {
	futures := make([]jetstream.PubAckFuture, len(group))
	for i, r := range group {
		f, err := s.js.PublishMsgAsync(natsMsg(r.messages[0], true))
		if err != nil {
			f = nil
		}
		futures[i] = f
	}
	bound, unbind := s.link.bind(context.Background())
	defer unbind()
	ctx, cancel := context.WithTimeout(bound, s.groupTimeout())
	defer cancel()
	for i, r := range group {
		if f := futures[i]; f != nil {
			select {
			case ack := <-f.Ok():
				r.result <- result{sequences: []uint64{ack.Sequence}}
				continue
			case <-f.Err():
			case <-ctx.Done():
			}
		}
		seqs, err := s.commitOne(r.ctx, r.messages)
		r.result <- result{seqs, err}
	}
}

// commitBatch publishes the requests as one atomic batch and, when that
// succeeds, answers each of them.
func (s *Store) commitBatch(group []*request) error {
	var all []Message
	var expect []bool
	for _, r := range group {
		all = append(all, r.messages...)
		expect = append(expect, expectations(r.messages)...)
	}
	bound, unbind := s.link.bind(context.Background())
	ctx, cancel := context.WithTimeout(bound, s.groupTimeout())
	seqs, err := s.publish(ctx, all, expect)
	cancel()
	unbind()
	if err != nil {
		return err
	}
	offset := 0
	for _, r := range group {
		r.result <- result{sequences: seqs[offset : offset+len(r.messages)]}
		offset += len(r.messages)
	}
	return nil
}

// partition splits a refused group into requests whose expectations match
// the subjects' last sequences and do not share a subject with an earlier
// request of the group, and the rest. When the sequences cannot be read,
// every request goes to the rest.
func (s *Store) partition(group []*request) (fresh, rest []*request) {
	bound, unbind := s.link.bind(context.Background())
	defer unbind()
	ctx, cancel := context.WithTimeout(bound, s.groupTimeout())
	defer cancel()
	last, err := s.lastSequences(ctx, group)
	if err != nil {
		return nil, group
	}
	taken := map[string]bool{}
	for _, r := range group {
		ok := true
		expect := expectations(r.messages)
		for i, m := range r.messages {
			if taken[m.Subject] || (expect[i] && last[m.Subject] != m.ExpectedSequence) {
				ok = false
				break
			}
		}
		if !ok {
			rest = append(rest, r)
			continue
		}
		for _, m := range r.messages {
			taken[m.Subject] = true
		}
		fresh = append(fresh, r)
	}
	return fresh, rest
}

// lastSequences reads the last stream sequence of every subject a group
// writes in one request; subjects with no message are absent (sequence 0).
func (s *Store) lastSequences(ctx context.Context, group []*request) (map[string]uint64, error) {
	var subjects []string
	seen := map[string]bool{}
	for _, r := range group {
		for _, m := range r.messages {
			if !seen[m.Subject] {
				seen[m.Subject] = true
				subjects = append(subjects, m.Subject)
			}
		}
	}
	return s.directLastSequences(ctx, subjects)
}

// directLastSequences reads the last sequences of subjects in one batched
// direct get, which any replica may answer; subjects with no message are
// absent.
func (s *Store) directLastSequences(ctx context.Context, subjects []string) (map[string]uint64, error) {
	msgs, end, err := s.directGet(ctx, struct {
		MultiLastFor []string `json:"multi_last"`
	}{subjects})
	if err != nil {
		return nil, err
	}
	if _, err := batchEnd(end); errors.Is(err, errNoMessages) {
		return map[string]uint64{}, nil
	} else if err != nil {
		return nil, err
	}
	last := make(map[string]uint64, len(subjects))
	for _, msg := range msgs {
		subject, seq, err := stored(msg)
		if err != nil {
			return nil, err
		}
		last[subject] = seq
	}
	return last, nil
}

// commitOne appends one request and tells a lost acknowledgement of an
// earlier success apart from a real conflict.
func (s *Store) commitOne(ctx context.Context, messages []Message) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("append %s: %w", messages[0].Subject, err)
	}
	if err := s.reachable(); err != nil {
		return nil, fmt.Errorf("append %s: %w", messages[0].Subject, err)
	}
	ctx, unbind := s.link.bind(ctx)
	defer unbind()
	seqs, err := s.publishToLeader(ctx, messages)
	// On a clustered stream, a retry that arrives while the first attempt
	// is still being replicated is refused as "in process"; once that
	// attempt settles, the retry is answered as a duplicate or refused as
	// a conflict like any other.
	for range inProcessRetriesMax {
		if !hasErrorCode(err, codeDuplicateInProcess) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("append %s: %w", messages[0].Subject, ctx.Err())
		case <-time.After(inProcessRetryWait):
		}
		seqs, err = s.publishToLeader(ctx, messages)
	}
	if err == nil {
		return seqs, nil
	}
	if !isConflictCode(err) {
		return nil, fmt.Errorf("append %s: %w", messages[0].Subject, lostOr(ctx, err))
	}
	stored, rerr := s.storedEarlier(ctx, messages)
	if rerr != nil {
		return nil, fmt.Errorf("append %s: reconcile after %v: %w", messages[0].Subject, err, lostOr(ctx, rerr))
	}
	if stored != nil {
		return stored, nil
	}
	return nil, &ConflictError{Subject: messages[0].Subject, Cause: err}
}

// storedEarlier checks whether these messages are already in the stream: on
// a single server the sequence check runs before de-duplication, so a
// retried success looks like a conflict. The first message after the
// expected sequence on its subject is ours exactly when the append went
// through, and an atomic batch is stored contiguously.
func (s *Store) storedEarlier(ctx context.Context, messages []Message) ([]uint64, error) {
	first := messages[0]
	if first.MsgID == "" {
		return nil, nil
	}
	var msg *jetstream.RawStreamMsg
	err := s.answered(ctx, func(ctx context.Context) (err error) {
		msg, err = s.stream.GetMsg(ctx, first.ExpectedSequence+1, jetstream.WithGetMsgSubject(first.Subject))
		return err
	})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if msg.Header.Get(jetstream.MsgIDHeader) != first.MsgID {
		return nil, nil
	}
	seqs := make([]uint64, len(messages))
	for i := range messages {
		seqs[i] = msg.Sequence + uint64(i)
	}
	return seqs, nil
}

// expectations marks which messages of one request carry their expectation:
// the server checks it only on the first message of a batch that writes a
// subject, and the request's later messages on that subject are covered by
// the batch being atomic. Requests combined into one batch keep their own
// marks, so two requests on one subject make the server refuse the batch
// rather than skip a check.
func expectations(messages []Message) []bool {
	out := make([]bool, len(messages))
	written := make(map[string]bool, len(messages))
	for i, m := range messages {
		out[i] = !written[m.Subject]
		written[m.Subject] = true
	}
	return out
}

// publishToLeader publishes one request's messages, again each
// streams.AttemptTimeout while unanswered (see answered).
func (s *Store) publishToLeader(ctx context.Context, messages []Message) (seqs []uint64, err error) {
	err = s.answered(ctx, func(ctx context.Context) (err error) {
		seqs, err = s.publish(ctx, messages, expectations(messages))
		return err
	})
	return seqs, err
}

// groupTimeout is how long a group's publish waits for its answer.
func (s *Store) groupTimeout() time.Duration {
	if s.replicated {
		return streams.AttemptTimeout
	}
	return groupTimeoutOneReplica
}

// directGet sends a batched direct get, again while unanswered (see
// answered).
func (s *Store) directGet(ctx context.Context, req any) (msgs []*nats.Msg, end *nats.Msg, err error) {
	err = s.answered(ctx, func(ctx context.Context) (err error) {
		msgs, end, err = s.gets.request(ctx, req)
		return err
	})
	return msgs, end, err
}

// answered runs f, a request to the stream's servers, again while
// unanswered or without a leader (streams.UntilLed). A stream of one
// replica has no election to wait for and no other replica to answer: its
// request is sent once.
func (s *Store) answered(ctx context.Context, f func(ctx context.Context) error) error {
	if !s.replicated {
		return f(ctx)
	}
	return streams.UntilLed(ctx, f)
}

func (s *Store) publish(ctx context.Context, messages []Message, expect []bool) ([]uint64, error) {
	if len(messages) == 1 {
		ack, err := s.js.PublishMsg(ctx, natsMsg(messages[0], true))
		if err != nil {
			return nil, err
		}
		return []uint64{ack.Sequence}, nil
	}
	msgs := make([]*nats.Msg, len(messages))
	for i, m := range messages {
		msgs[i] = natsMsg(m, expect[i])
	}
	// The library waits for an ack of the first message before sending the
	// rest; the commit's reply reports a batch the server refused at its
	// start just as well ("incomplete batch"), so skip that round trip.
	ack, err := jetstreamext.PublishMsgBatch(ctx, s.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
	if err != nil {
		return nil, err
	}
	if ack.BatchSize != 0 && ack.BatchSize != uint64(len(messages)) {
		return nil, fmt.Errorf("batch acknowledged %d of %d messages", ack.BatchSize, len(messages))
	}
	seqs := make([]uint64, len(messages))
	for i := range messages {
		seqs[i] = ack.Sequence - uint64(len(messages)-1-i)
	}
	return seqs, nil
}

func natsMsg(m Message, expect bool) *nats.Msg {
	msg := nats.NewMsg(m.Subject)
	msg.Data = m.Data
	if m.MsgID != "" {
		msg.Header.Set(jetstream.MsgIDHeader, m.MsgID)
	}
	if expect {
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(m.ExpectedSequence, 10))
		if m.ExpectedSubject != "" {
			msg.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, m.ExpectedSubject)
		}
	}
	return msg
}

// Server codes that mean "the expectation failed" or "already stored":
// 10071 wrong last sequence, 10164 batch expectation failed, 10201 a batch
// message id seen before.
func isConflictCode(err error) bool {
	return hasErrorCode(err, 10071, 10164, 10201) || strings.Contains(err.Error(), "wrong last sequence")
}

// hasErrorCode tells whether err is a JetStream API error with one of codes.
func hasErrorCode(err error, codes ...jetstream.ErrorCode) bool {
	if err == nil {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && slices.Contains(codes, apiErr.ErrorCode) {
		return true
	}
	var jsErr jetstream.JetStreamError
	return errors.As(err, &jsErr) && jsErr.APIError() != nil && slices.Contains(codes, jsErr.APIError().ErrorCode)
}

// Load reads every event of one aggregate subject and returns them with the
// subject's version: the stream sequence of its last message, 0 when empty.
func (s *Store) Load(ctx context.Context, subject string) ([]events.Envelope, uint64, error) {
	return s.LoadAfter(ctx, subject, 0)
}

// LoadAfter reads the events of a subject stored after sequence from.
//
// Its events come in batched direct gets, which any replica may answer. On
// a replicated stream a follower may not yet hold what the leader has
// acknowledged: it applies a message a moment after the leader, and a
// restarted one answers once 90 % caught up. So the leader is asked first
// how far the subject reaches, and what the replica lacked is read from it.
func (s *Store) LoadAfter(ctx context.Context, subject string, from uint64) ([]events.Envelope, uint64, error) {
	if err := s.reachable(); err != nil {
		return nil, 0, fmt.Errorf("load %s: %w", subject, err)
	}
	ctx, unbind := s.link.bind(ctx)
	defer unbind()
	var reach uint64
	if s.replicated {
		_, last, found, err := s.leaderMessage(ctx, struct {
			LastFor string `json:"last_by_subj"`
		}{subject})
		if err != nil {
			return nil, 0, fmt.Errorf("load %s: %w", subject, err)
		}
		if !found || last <= from {
			return nil, from, nil
		}
		reach = last
	}
	out, version, err := s.loadDirect(ctx, subject, from)
	if err != nil {
		return nil, 0, fmt.Errorf("load %s: %w", subject, err)
	}
	for version < reach {
		if len(out) >= loadMessagesMax {
			return nil, 0, fmt.Errorf("load %s: more than %d events", subject, loadMessagesMax)
		}
		data, seq, found, err := s.leaderMessage(ctx, struct {
			Seq     uint64 `json:"seq"`
			NextFor string `json:"next_by_subj"`
		}{version + 1, subject})
		if err != nil {
			return nil, 0, fmt.Errorf("load %s: %w", subject, err)
		}
		if !found {
			return nil, 0, fmt.Errorf("load %s: the leader has no message after %d, though its last is %d", subject, version, reach)
		}
		env, err := events.Unmarshal(data, seq)
		if err != nil {
			return nil, 0, fmt.Errorf("load %s: %w", subject, err)
		}
		out = append(out, env)
		version = seq
	}
	return out, version, nil
}

// loadDirect reads the events of a subject after sequence from in batched
// direct gets.
func (s *Store) loadDirect(ctx context.Context, subject string, from uint64) ([]events.Envelope, uint64, error) {
	var out []events.Envelope
	version := from
	for len(out) < loadMessagesMax {
		msgs, end, err := s.directGet(ctx, struct {
			Seq     uint64 `json:"seq"`
			NextFor string `json:"next_by_subj"`
			Batch   int    `json:"batch"`
		}{version + 1, subject, loadBatchSize})
		if err != nil {
			return nil, 0, lostOr(ctx, err)
		}
		pending, err := batchEnd(end)
		if errors.Is(err, errNoMessages) {
			return out, version, nil
		}
		if err != nil {
			return nil, 0, err
		}
		for _, msg := range msgs {
			_, seq, err := stored(msg)
			if err != nil {
				return nil, 0, err
			}
			env, err := events.Unmarshal(msg.Data, seq)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, env)
			version = seq
		}
		// The server ends a batch early at its byte limit, and says what
		// it left.
		if pending == 0 || len(msgs) == 0 {
			return out, version, nil
		}
	}
	return nil, 0, fmt.Errorf("more than %d events", loadMessagesMax)
}

// Last returns the data and sequence of the last message on a subject
// (wildcards allowed); found is false when the subject is empty. On a
// replicated stream it asks the stream's leader: a direct get may be
// answered by any replica, and a follower may not yet hold a message the
// leader has acknowledged, so a writer could miss its own write. A stream of
// one replica has no follower, and its direct get, which answers the message
// as it is stored instead of in JSON, is read.
func (s *Store) Last(ctx context.Context, subject string) (data []byte, sequence uint64, found bool, err error) {
	ctx, done, err := s.startRead(ctx)
	if err != nil {
		return nil, 0, false, fmt.Errorf("last message of %s: %w", subject, err)
	}
	defer done()
	if !s.replicated {
		req, err := json.Marshal(struct {
			LastFor string `json:"last_by_subj"`
		}{subject})
		if err != nil {
			return nil, 0, false, fmt.Errorf("last message of %s: %w", subject, err)
		}
		return s.lastDirect(ctx, subject, req)
	}
	data, sequence, found, err = s.leaderMessage(ctx, struct {
		LastFor string `json:"last_by_subj"`
	}{subject})
	if err != nil {
		return nil, 0, false, fmt.Errorf("last message of %s: %w", subject, err)
	}
	return data, sequence, found, nil
}

// leaderMessage asks the stream's leader for one message (STREAM.MSG.GET,
// which only the leader answers); found is false when there is none.
func (s *Store) leaderMessage(ctx context.Context, req any) (data []byte, sequence uint64, found bool, err error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, 0, false, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, leaderGetTimeout)
		defer cancel()
	}
	var reply *nats.Msg
	err = s.answered(ctx, func(ctx context.Context) (err error) {
		reply, err = s.js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+s.name, body)
		return err
	})
	if err != nil {
		return nil, 0, false, lostOr(ctx, err)
	}
	var resp struct {
		Message *struct {
			Sequence uint64 `json:"seq"`
			Data     []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return nil, 0, false, err
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, 0, false, nil
	case resp.Error != nil:
		return nil, 0, false, resp.Error
	case resp.Message == nil:
		return nil, 0, false, errors.New("empty answer")
	}
	return resp.Message.Data, resp.Message.Sequence, true, nil
}

// LastSequences returns the last stream sequence of each subject (literal
// subjects only); a subject with no message is absent. On a stream of one
// replica it is one request for all of them; on a replicated stream each
// is asked of the leader, as Last does.
func (s *Store) LastSequences(ctx context.Context, subjects []string) (map[string]uint64, error) {
	if s.replicated {
		last := make(map[string]uint64, len(subjects))
		for _, subject := range subjects {
			_, seq, found, err := s.Last(ctx, subject)
			if err != nil {
				return nil, err
			}
			if found {
				last[subject] = seq
			}
		}
		return last, nil
	}
	ctx, done, err := s.startRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("last sequences of %v: %w", subjects, err)
	}
	defer done()
	last, err := s.directLastSequences(ctx, subjects)
	if err != nil {
		return nil, fmt.Errorf("last sequences of %v: %w", subjects, lostOr(ctx, err))
	}
	return last, nil
}

// startRead readies a read of the stream's last messages: it fails at once
// while NATS is disconnected, ends with the connection, and is bounded by
// leaderGetTimeout unless ctx has a deadline already. done releases it.
func (s *Store) startRead(ctx context.Context) (context.Context, func(), error) {
	if err := s.reachable(); err != nil {
		return ctx, nil, err
	}
	ctx, unbind := s.link.bind(ctx)
	if _, ok := ctx.Deadline(); ok {
		return ctx, unbind, nil
	}
	ctx, cancel := context.WithTimeout(ctx, leaderGetTimeout)
	return ctx, func() { cancel(); unbind() }, nil
}

// lastDirect is Last on a stream of one replica, through a direct get: the
// message comes back as it is stored, its sequence in a header, and a
// missing one as status 404.
func (s *Store) lastDirect(ctx context.Context, subject string, req []byte) ([]byte, uint64, bool, error) {
	reply, err := s.js.Conn().RequestWithContext(ctx, "$JS.API.DIRECT.GET."+s.name, req)
	if err != nil {
		return nil, 0, false, fmt.Errorf("last message of %s: %w", subject, lostOr(ctx, err))
	}
	if status := reply.Header.Get("Status"); status != "" {
		if status == "404" {
			return nil, 0, false, nil
		}
		return nil, 0, false, fmt.Errorf("last message of %s: direct get answered %s %s", subject, status, reply.Header.Get("Description"))
	}
	seq, err := strconv.ParseUint(reply.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return nil, 0, false, fmt.Errorf("last message of %s: sequence header: %w", subject, err)
	}
	return reply.Data, seq, true, nil
}
