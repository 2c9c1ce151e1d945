package testkit

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Dropper stands between NATS clients and a server and passes on
// everything but, while told to, what clients publish on subjects with a
// given prefix: a request lost on its way, as one is with a node of a
// cluster or a stream's or consumer's leader.
type Dropper struct {
	ln      net.Listener
	server  string
	drop    atomic.Pointer[[]byte] // the prefix dropped; nil drops nothing
	dropped atomic.Int64
	mu      sync.Mutex
	conns   []net.Conn
}

// PullPrefix starts the subject a consumer's pull request is published to.
const PullPrefix = "$JS.API.CONSUMER.MSG.NEXT."

// protocolLineBytesMax bounds a line of the client protocol the dropper
// reads.
const protocolLineBytesMax = 64 << 10

// StartDropper listens on a port of its own and relays every client to the
// server at serverURL, which may stop and start again on its port.
func StartDropper(t testing.TB, serverURL string) *Dropper {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Dropper{ln: ln, server: u.Host}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL is where clients connect.
func (p *Dropper) URL() string { return "nats://" + p.ln.Addr().String() }

// Drop starts dropping what clients publish on subjects starting with
// prefix; "" stops it.
func (p *Dropper) Drop(prefix string) {
	if prefix == "" {
		p.drop.Store(nil)
		return
	}
	b := []byte(prefix)
	p.drop.Store(&b)
}

// Dropped counts the messages dropped so far.
func (p *Dropper) Dropped() int64 { return p.dropped.Load() }

// RestartLosingPulls restarts n's server on its port, so that the pulls it
// held are gone with it, and drops those its clients send once they have
// reconnected, until it has dropped one.
func (p *Dropper) RestartLosingPulls(t testing.TB, n *NATS) {
	t.Helper()
	port := n.Server.Addr().(*net.TCPAddr).Port
	StopNATS(n)
	before := p.Dropped()
	p.Drop(PullPrefix)
	n.Server = StartNATSAgain(t, n, port, false)
	Eventually(t, 10*time.Second, func() bool { return p.Dropped() > before }, "a pull sent after the reconnection dropped")
	p.Drop("")
}

// JetStream connects to the server through the dropper, reconnecting at
// once and for ever, and answers a JetStream client on that connection.
func (p *Dropper) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	_, js := Dial(t, p.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	return js
}

func (p *Dropper) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *Dropper) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.server)
		if err != nil {
			client.Close() // the server is down: the client tries again
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go func() {
			_, _ = io.Copy(client, server)
			client.Close()
			server.Close()
		}()
		go func() {
			p.relay(server, client)
			client.Close()
			server.Close()
		}()
	}
}

// relay copies the client's protocol to the server message by message,
// leaving out those it is told to drop. A PUB or HPUB line ends with the
// size of what follows it.
func (p *Dropper) relay(server io.Writer, client io.Reader) {
	r := bufio.NewReaderSize(client, protocolLineBytesMax)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		line = bytes.Clone(line)
		fields := bytes.Fields(line)
		var payload []byte
		if len(fields) >= 3 && (bytes.EqualFold(fields[0], []byte("PUB")) || bytes.EqualFold(fields[0], []byte("HPUB"))) {
			size, err := strconv.Atoi(string(fields[len(fields)-1]))
			if err != nil || size < 0 {
				return
			}
			payload = make([]byte, size+2) // and its CRLF
			if _, err := io.ReadFull(r, payload); err != nil {
				return
			}
			if prefix := p.drop.Load(); prefix != nil && bytes.HasPrefix(fields[1], *prefix) {
				p.dropped.Add(1)
				continue
			}
		}
		if _, err := server.Write(append(line, payload...)); err != nil {
			return
		}
	}
}
