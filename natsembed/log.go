package natsembed

import (
	"context"
	"fmt"
	"log/slog"
)

func (s *Server) logf(level slog.Level, msg string, args ...any) {
	if s.log != nil {
		s.log.Log(context.Background(), level, msg, args...)
	}
}

// serverLog passes the server's warnings and errors on to the process's
// log, and its write errors to the Server; its notices, debug and trace
// lines are dropped.
type serverLog struct{ s *Server }

func (l serverLog) Noticef(string, ...any) {}
func (l serverLog) Debugf(string, ...any)  {}
func (l serverLog) Tracef(string, ...any)  {}

func (l serverLog) Warnf(format string, v ...any) {
	l.s.logf(slog.LevelWarn, "nats server: "+fmt.Sprintf(format, v...))
}

func (l serverLog) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.s.noteWriteFailure(msg)
	l.s.logf(slog.LevelError, "nats server: "+msg)
}

func (l serverLog) Fatalf(format string, v ...any) {
	l.s.logf(slog.LevelError, "nats server: "+fmt.Sprintf(format, v...))
}
