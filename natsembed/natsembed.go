// Package natsembed runs a NATS server with JetStream inside this process, for
// `rafiki dev` and for tests.
package natsembed

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options choose where the server listens and keeps its store.
type Options struct {
	Host     string
	Port     int // -1 picks a free port
	StoreDir string
	// SyncAlways fsyncs every write before acknowledging it. Without it an
	// operating-system crash can lose acknowledged events.
	SyncAlways bool
}

// Start runs a server and waits until it accepts connections.
func Start(opts Options) (*server.Server, error) {
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "rafiki-embedded",
		Host:       host,
		Port:       opts.Port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		SyncAlways: opts.SyncAlways,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats server on %s:%d: not ready after 10s (is the port in use?)", host, opts.Port)
	}
	return ns, nil
}
