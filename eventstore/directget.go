package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// What the replies' subscription may hold before the client drops
	// them; each request waits for its own with a deadline anyway.
	repliesPendingMax      = 1_000_000
	repliesPendingBytesMax = 256 << 20
)

// numPendingHeader is how many messages a batch left for another request.
const numPendingHeader = "Nats-Num-Pending"

// errNoMessages is a batched direct get that found nothing.
var errNoMessages = errors.New("no messages")

// directGets sends batched direct gets (several messages answered to one
// request, ended by an "end of batch" status) and gathers their answers on
// one subscription that lives as long as the store. The client library
// subscribes to a new inbox for every such request, which costs the server
// a subscribe and an unsubscribe each time: more than the read itself.
type directGets struct {
	nc      *nats.Conn
	subject string
	prefix  string

	mu      sync.Mutex
	sub     *nats.Subscription
	next    uint64
	pending map[string]*gathered
}

// gathered is what one request has been answered so far.
type gathered struct {
	msgs []*nats.Msg
	// end is the status that ended the answer: 204 (end of batch), 404
	// (nothing found) or an error status.
	end  *nats.Msg
	done chan struct{}
}

func newDirectGets(nc *nats.Conn, stream string) *directGets {
	return &directGets{
		nc:      nc,
		subject: "$JS.API.DIRECT.GET." + stream,
		prefix:  nc.NewInbox() + ".",
		pending: map[string]*gathered{},
	}
}

// subscribe makes the replies' subscription the first time it is needed.
// The client restores it after a reconnect.
func (d *directGets) subscribe() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sub != nil && d.sub.IsValid() {
		return nil
	}
	sub, err := d.nc.Subscribe(d.prefix+"*", d.receive)
	if err != nil {
		return fmt.Errorf("subscribe to direct get replies: %w", err)
	}
	if err := sub.SetPendingLimits(repliesPendingMax, repliesPendingBytesMax); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("subscribe to direct get replies: %w", err)
	}
	d.sub = sub
	return nil
}

func (d *directGets) receive(msg *nats.Msg) {
	token := msg.Subject[len(d.prefix):]
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.pending[token]
	if g == nil {
		return // its request gave up
	}
	if msg.Header.Get("Status") == "" {
		g.msgs = append(g.msgs, msg)
		return
	}
	g.end = msg
	delete(d.pending, token)
	close(g.done)
}

// request sends one batched direct get and answers its messages and the
// status that ended them, waiting no longer than leaderGetTimeout when ctx
// sets no deadline.
func (d *directGets) request(ctx context.Context, req any) ([]*nats.Msg, *nats.Msg, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	if err := d.subscribe(); err != nil {
		return nil, nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, leaderGetTimeout)
		defer cancel()
	}
	d.mu.Lock()
	d.next++
	token := strconv.FormatUint(d.next, 36)
	g := &gathered{done: make(chan struct{})}
	d.pending[token] = g
	d.mu.Unlock()
	msg := nats.NewMsg(d.subject)
	msg.Reply = d.prefix + token
	msg.Data = data
	if err := d.nc.PublishMsg(msg); err != nil {
		d.forget(token)
		return nil, nil, err
	}
	select {
	case <-g.done:
		return g.msgs, g.end, nil
	case <-ctx.Done():
		d.forget(token)
		return nil, nil, ctx.Err()
	}
}

func (d *directGets) forget(token string) {
	d.mu.Lock()
	delete(d.pending, token)
	d.mu.Unlock()
}

// batchEnd reads the status that ended a batch: the messages still pending
// after it, or errNoMessages, or the error the server answered.
func batchEnd(end *nats.Msg) (pending uint64, err error) {
	switch status := end.Header.Get("Status"); status {
	case "204":
		if v := end.Header.Get(numPendingHeader); v != "" {
			return strconv.ParseUint(v, 10, 64)
		}
		return 0, nil
	case "404":
		return 0, errNoMessages
	default:
		return 0, fmt.Errorf("direct get answered %s %s", status, end.Header.Get("Description"))
	}
}

// stored reads a message a batched direct get answered.
func stored(msg *nats.Msg) (subject string, sequence uint64, err error) {
	subject = msg.Header.Get(jetstream.SubjectHeader)
	sequence, err = strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil || subject == "" {
		return "", 0, fmt.Errorf("direct get answer without its subject or sequence (%q, %q)",
			subject, msg.Header.Get(jetstream.SequenceHeader))
	}
	return subject, sequence, nil
}
