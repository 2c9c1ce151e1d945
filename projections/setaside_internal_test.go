package projections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// Only errors about the events applied set an event aside; whatever may
// pass is tried again.
func TestCannotApply(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code} }
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"invalid text for a type", pg("22P02"), true},
		{"numeric out of range", pg("22003"), true},
		{"unique violation", pg("23505"), true},
		{"not null violation", pg("23502"), true},
		{"wrapped unique violation", fmt.Errorf("projection x: apply batch up to 9: %w", pg("23505")), true},
		{"the projection refused the event", &eventError{errors.New("decode event")}, true},
		{"serialization failure", pg("40001"), false},
		{"deadlock", pg("40P01"), false},
		{"admin shutdown", pg("57P01"), false},
		{"query cancelled", pg("57014"), false},
		{"connection failure", pg("08006"), false},
		{"too many connections", pg("53300"), false},
		{"undefined column: a broken projection, not a broken event", pg("42703"), false},
		{"aborted transaction", pg("25P02"), false},
		{"deadline", fmt.Errorf("apply: %w", context.DeadlineExceeded), false},
		{"connection lost", io.ErrUnexpectedEOF, false},
		{"malformed code", pg("2"), false},
	} {
		if got := cannotApply(c.err); got != c.want {
			t.Errorf("%s: cannotApply = %v, want %v", c.name, got, c.want)
		}
	}
}
