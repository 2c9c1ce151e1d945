package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
)

// Listener is one HTTP port of a service.
type Listener struct {
	Name   string // what it serves, for messages
	EnvVar string // the variable that moves it
	Port   int
}

// Servers are bound listeners, ready to serve.
type Servers struct {
	log      *slog.Logger
	servers  []*http.Server
	bound    []net.Listener
	names    []string
	handlers map[string]http.Handler
	wg       sync.WaitGroup
}

// Bind takes every port before anything else starts, so that a second
// instance on busy ports fails at once with a clear message.
func Bind(listeners []Listener, log *slog.Logger) (*Servers, error) {
	s := &Servers{log: log, handlers: map[string]http.Handler{}}
	for _, l := range listeners {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", l.Port))
		if err != nil {
			s.closeBound()
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("port %d for the %s is already in use (is another rafiki running?); set %s to move it", l.Port, l.Name, l.EnvVar)
			}
			return nil, fmt.Errorf("listen on %d for the %s: %w", l.Port, l.Name, err)
		}
		s.bound = append(s.bound, ln)
		s.names = append(s.names, l.Name)
		s.servers = append(s.servers, &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second})
	}
	return s, nil
}

// Close releases the ports of servers that never served.
func (s *Servers) closeBound() {
	for _, ln := range s.bound {
		ln.Close()
	}
}

// Close releases every port without serving.
func (s *Servers) Close() { s.closeBound() }

// Addr is the address a listener is bound to.
func (s *Servers) Addr(name string) (string, bool) {
	for i, n := range s.names {
		if n == name {
			return s.bound[i].Addr().String(), true
		}
	}
	return "", false
}

// Handle sets what a listener serves besides /healthz.
func (s *Servers) Handle(name string, h http.Handler) { s.handlers[name] = h }

// Serve starts serving on every bound port.
func (s *Servers) Serve() {
	for i, srv := range s.servers {
		srv.Handler = withHealth(s.handlers[s.names[i]])
		s.wg.Go(func() {
			if err := srv.Serve(s.bound[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server stopped", "listener", s.names[i], "err", err)
			}
		})
	}
}

// Shutdown stops accepting and waits for requests in flight.
func (s *Servers) Shutdown(ctx context.Context) {
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			s.log.Warn("http shutdown", "err", err)
		}
	}
	s.wg.Wait()
}

// withHealth adds GET /healthz to a handler.
func withHealth(h http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	if h != nil {
		r.Mount("/", h)
	}
	return r
}
