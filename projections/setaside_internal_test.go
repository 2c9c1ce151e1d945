package projections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/secrets"
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

type failingOpener struct{ err error }

func (o failingOpener) OpenEvent(context.Context, events.Envelope, events.Event) (events.Event, error) {
	return nil, o.err
}

// A tenant event whose data key cannot be read now is tried again, never
// set aside: setting it aside would leave the tenant out of the read model
// for good, unable to sign. A secret that is not sealed at all is the
// event's own fault.
func TestUnreadableKeyIsNotTheEventsFault(t *testing.T) {
	env := events.Envelope{Type: "tenant.created", Sequence: 7, SchemaVersion: events.SealedSecretsVersion,
		AggregateType: "tenant", AggregateID: "00000000-0000-4000-8000-000000000001"}
	ev := events.TenantCreated{APISecret: "enc:v1:AAAA"}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"key stream did not answer", fmt.Errorf("open apiSecret: %w: %w", secrets.ErrKeyUnreadable, context.DeadlineExceeded), false},
		{"key missing", fmt.Errorf("open apiSecret: %w: %w", secrets.ErrKeyUnreadable, secrets.ErrKeyMissing), false},
		{"not a sealed secret", errors.New("open apiSecret: not a sealed secret"), true},
	} {
		err := queueEvent(&pgx.Batch{}, Tenants{Secrets: failingOpener{c.err}}, nil, nil, decoded{env: env, ev: ev})
		if err == nil || cannotApply(err) != c.want {
			t.Errorf("%s: queueEvent = %v, cannotApply %v, want %v", c.name, err, cannotApply(err), c.want)
		}
	}
}
