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
	log            *slog.Logger
	requestTimeout time.Duration
	servers        []*http.Server
	bound          []net.Listener
	names          []string
	handlers       map[string]http.Handler
	health         map[string]*Health
	wg             sync.WaitGroup
}

// requestReadTimeout bounds the reading of a whole request, its body too:
// a client that sends a body a byte at a time, or never sends the body it
// announced, would otherwise hold its connection, and the descriptor the
// process shares with every listener and database connection, for good.
// Bodies here are small (at most a megabyte), so a slow but honest client
// has plenty. A variable for tests.
var requestReadTimeout = 30 * time.Second

// Bind takes every port before anything else starts, so that a second
// instance on busy ports fails at once with a clear message. Every request
// gets requestTimeout as its deadline.
func Bind(listeners []Listener, requestTimeout time.Duration, log *slog.Logger) (*Servers, error) {
	s := &Servers{log: log, requestTimeout: requestTimeout, handlers: map[string]http.Handler{}, health: map[string]*Health{}}
	byPort := map[int]Listener{}
	for _, l := range listeners {
		if l.Port < 0 || l.Port > 65535 {
			return nil, fmt.Errorf("%s (%d) must be a port, 0 to 65535", l.EnvVar, l.Port)
		}
		if other, taken := byPort[l.Port]; taken && l.Port != 0 {
			return nil, fmt.Errorf("%s and %s are both %d: the %s and the %s need a port each", other.EnvVar, l.EnvVar, l.Port, other.Name, l.Name)
		}
		byPort[l.Port] = l
	}
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
		s.servers = append(s.servers, &http.Server{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: requestReadTimeout, IdleTimeout: 120 * time.Second})
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

// Handle sets what a listener serves besides its health endpoints.
func (s *Servers) Handle(name string, h http.Handler) { s.handlers[name] = h }

// SetHealth sets the checks a listener's readiness depends on.
func (s *Servers) SetHealth(name string, h *Health) { s.health[name] = h }

// Serve starts serving on every bound port.
func (s *Servers) Serve() {
	for i, srv := range s.servers {
		health := s.health[s.names[i]]
		if health == nil {
			health = NewHealth()
		}
		srv.Handler = withHealth(withDeadline(s.handlers[s.names[i]], s.requestTimeout), health)
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

// withHealth adds the health endpoints to a handler: GET /healthz (as
// Rafiki has it) and /readyz answer readiness, /livez liveness.
func withHealth(h http.Handler, health *Health) http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", health.serveReadiness)
	r.Get("/readyz", health.serveReadiness)
	r.Get("/livez", serveLiveness)
	if h != nil {
		r.Mount("/", h)
	}
	return r
}

// withDeadline gives every request a deadline, so that nothing it waits for
// (a pool connection, the event store, a read model) holds it for good.
func withDeadline(h http.Handler, timeout time.Duration) http.Handler {
	if h == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
