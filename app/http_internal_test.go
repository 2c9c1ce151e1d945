package app

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSlowBodiesDoNotHoldConnections sends bodies that never arrive: one a
// handler reads, and one a handler refuses without reading (as an
// unauthenticated request is). The server closes both connections once the
// request's read time is up.
func TestSlowBodiesDoNotHoldConnections(t *testing.T) {
	was := requestReadTimeout
	requestReadTimeout = 300 * time.Millisecond
	t.Cleanup(func() { requestReadTimeout = was })
	s, err := Bind([]Listener{{Name: "test", EnvVar: "TEST_PORT", Port: 0}}, 10*time.Second, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refuse" {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "body not read", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	s.Serve()
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	addr, _ := s.Addr("test")
	for _, path := range []string{"/read", "/refuse"} {
		t.Run(path, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", path)
			start := time.Now()
			if err := conn.SetReadDeadline(start.Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			answer, err := io.ReadAll(bufio.NewReader(conn))
			if err != nil {
				t.Fatalf("the connection is still open after %s (%v), having answered %q", time.Since(start), err, answer)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("closed after %s", took)
			}
			if path == "/read" && !strings.Contains(string(answer), " 400 ") {
				t.Fatalf("answer %q", answer)
			}
		})
	}
}

// Port settings that cannot work are refused naming the settings, before a
// port is taken: two listeners of one process on one port, a port out of
// range.
func TestBindRefusesPortSettingsThatCannotWork(t *testing.T) {
	for _, tc := range []struct {
		name      string
		listeners []Listener
		want      []string
	}{
		{"one port twice", []Listener{{Name: "admin API", EnvVar: "ADMIN_PORT", Port: 21400}, {Name: "Open Payments API", EnvVar: "OPEN_PAYMENTS_PORT", Port: 21400}},
			[]string{"ADMIN_PORT and OPEN_PAYMENTS_PORT are both 21400"}},
		{"out of range", []Listener{{Name: "Open Payments API", EnvVar: "OPEN_PAYMENTS_PORT", Port: 70000}}, []string{"OPEN_PAYMENTS_PORT (70000)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Bind(tc.listeners, time.Second, slog.New(slog.DiscardHandler))
			if err == nil {
				s.Close()
				t.Fatal("bound")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v, want %q", err, w)
				}
			}
		})
	}
}
