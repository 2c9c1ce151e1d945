//go:build linux

package natsembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/apperr"
)

// smallDisk mounts a file system of size bytes for the test: a full disk is
// made by filling it, not by pretending.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("a small file system to fill needs a tmpfs mount, which this process may not make: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file into dir until at most leave bytes are free, or the
// disk is full when leave is 0.
func fill(t *testing.T, dir string, leave uint64) string {
	t.Helper()
	path := filepath.Join(dir, "ballast")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for range 1 << 14 {
		free, err := freeBytes(dir)
		if err != nil {
			t.Fatal(err)
		}
		if free <= leave || (leave == 0 && free == 0) {
			return path
		}
		n := uint64(len(chunk))
		if leave > 0 && free-leave < n {
			n = free - leave
		}
		if _, err := f.Write(chunk[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
	t.Fatal("the disk never filled")
	return ""
}

// syncLog is a log the server's goroutines write while the test reads it.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func refusedWith(ns *Server, text string) bool {
	err := ns.Writable()
	return err != nil && apperr.KindOf(err) == apperr.Unavailable && strings.Contains(apperr.Message(err), text)
}

// TestFullDiskStopsWritesAndTheyResume fills the store's file system: short
// of full, writes are refused before the server meets an error; filled up,
// the server's write fails (and its file store would refuse every write
// after), and once there is room JetStream is restarted and takes writes
// again, with every acknowledged message still there.
func TestFullDiskStopsWritesAndTheyResume(t *testing.T) {
	disk := smallDisk(t, 24<<20)
	logged := &syncLog{}
	log := slog.New(slog.NewTextHandler(logged, nil))
	ns, err := Start(Options{Port: -1, StoreDir: filepath.Join(disk, "nats"), SyncAlways: true, Log: log, DiskReserveBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ns.keepWritable(ctx, 20*time.Millisecond)

	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EV", Subjects: []string{"ev.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	acked := 0
	publish := func() error {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := js.Publish(pctx, fmt.Sprintf("ev.%d", acked), []byte(strings.Repeat("x", 512)))
		if err == nil {
			acked++
		}
		return err
	}
	for range 10 {
		if err := publish(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ns.Writable(); err != nil {
		t.Fatalf("writable with room: %v", err)
	}

	ballast := fill(t, disk, 2<<20)
	eventually(t, "writes refused under the reserve", func() bool { return refusedWith(ns, "nearly full") })
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	eventually(t, "writes taken again", func() bool { return ns.Writable() == nil })

	ballast = fill(t, disk, 0)
	var failed error
	for range 100 {
		if failed = publish(); failed != nil {
			break
		}
	}
	if failed == nil {
		t.Fatal("a full disk took 100 more messages")
	}
	eventually(t, "the write failure known", func() bool { return refusedWith(ns, "could not write") })
	if err := publish(); err == nil {
		t.Fatal("the stream took a write after its file store failed one, with the disk still full")
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	eventually(t, "writes taken again after the failure", func() bool { return ns.Writable() == nil })
	eventually(t, "the stream takes a message again", func() bool { return publish() == nil })
	s, err := js.Stream(ctx, "EV")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().State.Msgs; got != uint64(acked) {
		t.Fatalf("stream holds %d messages, %d were acknowledged", got, acked)
	}
	for _, want := range []string{"nats server: ", "critical write error", "JetStream restarted after a write failure"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logged.String())
		}
	}
}
