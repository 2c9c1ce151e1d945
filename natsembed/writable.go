package natsembed

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/rafiki-go/rafiki/apperr"
)

// diskCheckInterval is how often KeepWritable looks at the free space.
const diskCheckInterval = time.Second

// Writable fails, with an error a caller may be shown, while writes to the
// store would fail: its file system is fuller than the reserve allows, or
// the server met a write error and refuses every write since.
func (s *Server) Writable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.writeFailure != "":
		return apperr.E(apperr.Unavailable, "The event store could not write to its disk and stores nothing until there is room again: nothing was stored. Retry later.")
	case s.lowSpace != "":
		return apperr.E(apperr.Unavailable, "The event store's disk is nearly full (%s): nothing was stored. Retry later.", s.lowSpace)
	}
	return nil
}

// KeepWritable looks at the store's free space every second until ctx
// ends. Under the reserve it has Writable refuse writes, before the disk
// fills; once a write failed and there is room again, it restarts
// JetStream, which opens the store afresh and forgets the error (the
// streams and consumers stay as the disk holds them, and clients stay
// connected).
func (s *Server) KeepWritable(ctx context.Context) {
	s.keepWritable(ctx, diskCheckInterval)
}

func (s *Server) keepWritable(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		s.checkSpace()
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (s *Server) checkSpace() {
	free, err := freeBytes(s.storeDir)
	if err != nil {
		if !s.spaceUnknown {
			s.spaceUnknown = true
			s.logf(slog.LevelWarn, "free space of the event store's disk unknown: writes are not stopped short of a full disk", "dir", s.storeDir, "err", err)
		}
		return
	}
	low := ""
	if free < s.reserve {
		low = fmt.Sprintf("%d MiB free, %d MiB kept in reserve", free>>20, s.reserve>>20)
	}
	s.mu.Lock()
	was, failed := s.lowSpace, s.writeFailure != ""
	s.lowSpace = low
	s.mu.Unlock()
	switch {
	case low != "" && was == "":
		s.logf(slog.LevelError, "the event store's disk is nearly full: writes are refused until there is more room", "dir", s.storeDir, "free_bytes", free, "reserve_bytes", s.reserve)
	case low == "" && was != "":
		s.logf(slog.LevelInfo, "the event store's disk has room again: writes resume", "dir", s.storeDir, "free_bytes", free)
	}
	if failed && low == "" {
		s.restartJetStream()
	}
}

// restartJetStream closes and opens the store again, which clears the
// write error the file store kept.
func (s *Server) restartJetStream() {
	if err := s.DisableJetStream(); err != nil {
		s.logf(slog.LevelError, "JetStream not restarted after a write failure", "err", err)
		return
	}
	if err := s.EnableJetStream(&server.JetStreamConfig{StoreDir: s.storeDir}); err != nil {
		s.logf(slog.LevelError, "JetStream not restarted after a write failure; tried again in a second", "err", err)
		return
	}
	s.mu.Lock()
	failure := s.writeFailure
	s.writeFailure = ""
	s.mu.Unlock()
	s.logf(slog.LevelInfo, "JetStream restarted after a write failure: writes resume", "failure", failure)
}

// noteWriteFailure records a write error the server reported; the store it
// hit refuses writes from now on (see filestore.go's setWriteErr).
func (s *Server) noteWriteFailure(message string) {
	if !strings.Contains(strings.ToLower(message), "critical write error") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeFailure == "" {
		s.writeFailure = message
	}
}
