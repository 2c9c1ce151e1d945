// Package natsembed runs a NATS server with JetStream inside this process, for
// `rafiki dev` and for tests.
package natsembed

import (
	"fmt"
	"log/slog"
	"sync"
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
	// Log receives the server's warnings and errors; nil drops them.
	Log *slog.Logger
	// DiskReserveBytes is the free space under which KeepWritable refuses
	// writes; 0 means DiskReserveDefault.
	DiskReserveBytes uint64
}

// DiskReserveDefault is the space left free on the store's file system
// before writes are refused. The server's file store keeps the first write
// error it meets for good, so a disk that fills up would stop every stream
// until JetStream restarts; stopping short of full keeps it writing.
const DiskReserveDefault = 64 << 20

// Server is an embedded server and what is known of its store's health.
type Server struct {
	*server.Server
	storeDir string
	unlock   func() // releases the store's lock
	reserve  uint64
	log      *slog.Logger
	// spaceUnknown is set once the free space could not be read (and that
	// was logged); only KeepWritable's goroutine uses it.
	spaceUnknown bool

	mu sync.Mutex
	// writeFailure is the last write error the server reported since its
	// JetStream started; the stream it hit refuses every write after it.
	writeFailure string
	// lowSpace says how little space is left when it is under the reserve.
	lowSpace string
}

// Start runs a server and waits until it accepts connections.
func Start(opts Options) (*Server, error) {
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	lock, err := lockStore(opts.StoreDir)
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "rafiki-embedded",
		Host:       host,
		Port:       opts.Port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		SyncAlways: opts.SyncAlways,
		NoLog:      opts.Log == nil,
		NoSigs:     true,
	})
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("nats server: %w", err)
	}
	s := &Server{Server: ns, storeDir: opts.StoreDir, reserve: opts.DiskReserveBytes, log: opts.Log}
	s.unlock = sync.OnceFunc(func() { lock.Close() })
	// Shut down through the embedded server too (as tests do), the store
	// is released a moment after.
	go func() {
		ns.WaitForShutdown()
		s.unlock()
	}()
	if s.reserve == 0 {
		s.reserve = DiskReserveDefault
	}
	if opts.Log != nil {
		ns.SetLoggerV2(serverLog{s}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats server on %s:%d: not ready after 10s (is the port in use?)", host, opts.Port)
	}
	return s, nil
}

// Shutdown stops the server and releases its store.
func (s *Server) Shutdown() {
	s.Server.Shutdown()
	s.unlock()
}
