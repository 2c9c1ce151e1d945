package app_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rafiki-go/rafiki/app"
)

// frozenNATS speaks just enough of NATS's protocol to take a client's
// connection, then stops answering, as a server stopped with SIGSTOP does:
// the connection stays open.
func frozenNATS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = conn.Write([]byte(`INFO {"server_id":"frozen","version":"2.15.2","proto":1,"max_payload":1048576,"headers":true}` + "\r\n"))
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "PING") {
				_, _ = conn.Write([]byte("PONG\r\n"))
				break
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	return "nats://" + ln.Addr().String()
}

// A NATS server that stops answering while the connection stays open is
// seen by readiness within the check's time, not only once the client
// gives the connection up.
func TestNATSCheckSeesAServerThatStoppedAnswering(t *testing.T) {
	nc, err := nats.Connect(frozenNATS(t), nats.PingInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	err = app.NATSCheck(nc).Run(ctx)
	if err == nil {
		t.Fatalf("a server that does not answer passed the check (connection %s)", nc.Status())
	}
	if took := time.Since(began); took > time.Second {
		t.Fatalf("the check took %s", took)
	}
}
