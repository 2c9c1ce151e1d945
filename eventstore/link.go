package eventstore

import (
	"context"
	"errors"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/rafiki-go/rafiki/apperr"
)

// errConnectionLost ends a request whose connection to the server was lost
// while it waited for an answer. The server may have stored an append before
// it went: a retry with the same command id finds it.
var errConnectionLost = apperr.E(apperr.Unavailable,
	"The connection to the event store was lost while this request was under way; the change may or may not be stored. Retry it with the same idempotency key.")

// link is the store's connection to the server as requests see it: its
// context ends when the connection is lost. nats.go keeps a request in
// flight across a reconnection and waits for an answer the lost server
// will never send; requests bound to the link fail at once instead, and
// their retries go to the server the client reconnects to.
type link struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
}

func newLink() *link {
	l := &link{}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// follow ends the link's context each time the connection is lost, until
// done is closed.
func (l *link) follow(nc *nats.Conn, done <-chan struct{}) {
	lost := nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	go func() {
		defer nc.RemoveStatusListener(lost)
		for {
			select {
			case <-lost:
				l.mu.Lock()
				l.cancel()
				l.ctx, l.cancel = context.WithCancel(context.Background())
				l.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
}

// bind derives from ctx a context that also ends when the connection is
// lost; its cause is then errConnectionLost.
func (l *link) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	l.mu.Lock()
	current := l.ctx
	l.mu.Unlock()
	bound, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(current, func() { cancel(errConnectionLost) })
	return bound, func() {
		stop()
		cancel(nil)
	}
}

// lostOr is errConnectionLost when ctx ended because the connection was
// lost, and err otherwise.
func lostOr(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errConnectionLost) {
		return errConnectionLost
	}
	return err
}
