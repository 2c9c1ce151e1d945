package app_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/testkit"
)

// Services started together (a backend and its workers) each create the
// database when it is missing: every one of them must start, whichever
// creates it, and the one that did says so (a mistyped URL makes a
// database too).
func TestEnsureDatabaseConcurrently(t *testing.T) {
	name := fmt.Sprintf("rafiki_ensure_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	t.Cleanup(func() {
		admin, err := pgx.Connect(context.Background(), testkit.PostgresURL())
		if err != nil {
			return
		}
		defer admin.Close(context.Background())
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	base, query, _ := strings.Cut(testkit.PostgresURL(), "?")
	url := base[:strings.LastIndex(base, "/")+1] + name
	if query != "" {
		url += "?" + query
	}
	var logged bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logged.Write(p)
	}), nil))
	const processes = 8
	var wg sync.WaitGroup
	errs := make(chan error, processes)
	start := make(chan struct{})
	for range processes {
		wg.Go(func() {
			<-start
			errs <- app.EnsureDatabase(context.Background(), url, log)
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a service starting beside others: %v", err)
		}
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("the database is not there: %v", err)
	}
	conn.Close(context.Background())
	if n := strings.Count(logged.String(), "created the database"); n != 1 || !strings.Contains(logged.String(), name) {
		t.Errorf("%d creations told, want 1 naming %s:\n%s", n, name, logged.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
