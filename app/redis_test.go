package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/testkit"
)

// replyDropper is a TCP proxy to Redis that, once armed, passes the next
// command holding mark to Redis and then closes the client's connection
// instead of passing the answer back: the command ran, its caller never
// heard.
type replyDropper struct {
	target string
	mark   []byte
	armed  atomic.Bool
	seen   atomic.Int64 // commands holding mark that reached Redis
}

func (p *replyDropper) serve(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			go p.relay(client)
		}
	}()
	return "redis://" + l.Addr().String()
}

func (p *replyDropper) relay(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	var once sync.Once
	drop := make(chan struct{})
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if bytes.Contains(buf[:n], p.mark) {
					p.seen.Add(1)
					if p.armed.CompareAndSwap(true, false) {
						once.Do(func() { close(drop) })
					}
				}
				if _, err := server.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		select {
		case <-drop:
			return // the answer to the marked command, and the connection, lost
		default:
		}
		if n > 0 {
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// A Redis write whose answer is lost is not sent again: a retried
// first-use mark would find the signature used by its own request, and a
// retried counter would add twice. The caller is told the service did not
// answer.
func TestRedisWritesAreSentOnce(t *testing.T) {
	testkit.Redis(t)
	target := strings.TrimPrefix(testkit.RedisURL(), "redis://")
	if i := strings.IndexByte(target, '/'); i >= 0 {
		target = target[:i]
	}
	key := "test:sent-once:" + t.Name()
	p := &replyDropper{target: target, mark: []byte(key)}
	ctx := context.Background()
	c, err := app.OpenRedis(ctx, p.serve(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Del(ctx, key)
	t.Cleanup(func() { c.Del(context.Background(), key) })

	before := p.seen.Load()
	p.armed.Store(true)
	err = c.IncrBy(ctx, key, 5).Err()
	if err == nil {
		t.Fatal("the answer was lost, yet the call succeeded")
	}
	if apperr.KindOf(err) != apperr.Unavailable {
		t.Errorf("a lost answer is %s (%v), want Unavailable", apperr.KindOf(err), err)
	}
	if n := p.seen.Load() - before; n != 1 {
		t.Errorf("the command reached Redis %d times, want once", n)
	}
	if got, err := c.Get(ctx, key).Result(); err != nil || got != "5" {
		t.Errorf("the counter holds %q (%v), want 5", got, err)
	}
}

// Errors that name Redis's URL do not show its password.
func TestRedisURLPasswordStaysHidden(t *testing.T) {
	ctx := context.Background()
	for _, raw := range []string{"redis://:S3cretPW@127.0.0.1:1/0", "redis://user:S3cretPW@127.0.0.1:bad/0", "rediss://:S3cretPW@[::1"} {
		_, err := app.OpenRedis(ctx, raw)
		if err == nil || strings.Contains(err.Error(), "S3cretPW") {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

// Errors that name NATS's URLs do not show their passwords.
func TestNATSURLPasswordStaysHidden(t *testing.T) {
	cfg, err := config.Load("worker")
	if err != nil {
		t.Fatal(err)
	}
	cfg.EventSecretsKey = make([]byte, 32)
	for _, raw := range []string{"nats://user:S3cretPW@127.0.0.1:1", "nats://127.0.0.1:1,nats://user:S3cretPW@127.0.0.1:2", "nats://user:S3cretPW@[::1"} {
		cfg.NATSURL = raw
		_, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Set{Worker: true}, false)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "nats") || strings.Contains(err.Error(), "S3cretPW") {
			t.Errorf("%s: %v", raw, err)
		}
	}
}
