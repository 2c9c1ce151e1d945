package incomingpayment

import (
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

const partialID = "00000000-0000-4000-8000-0000000000e1"

func TestDecidePartials(t *testing.T) {
	packetExpiry := now.Add(2 * time.Second)
	arrival := commands.ReceivePartialIncomingPayment{Meta: meta(commands.Actor{}), IncomingPaymentID: paymentIDValue,
		PartialIncomingPaymentID: partialID, DataFromSender: []byte(`{"name":"Alice"}`), Amount: 40, ExpiresAt: packetExpiry}
	received := &events.IncomingPaymentPartialReceived{PartialIncomingPaymentID: partialID, DataFromSender: `{"name":"Alice"}`,
		Amount: 40, ExpiresAt: packetExpiry}
	waits := with(processing, func(s *State) { s.Partials = []Partial{{ID: partialID, ExpiresAt: packetExpiry}} })
	full := with(processing, func(s *State) {
		for range partialsMax {
			s.Partials = append(s.Partials, Partial{ID: "other", ExpiresAt: packetExpiry})
		}
	})
	stale := with(full, func(s *State) {
		s.Partials = append([]Partial(nil), s.Partials...)
		for i := range s.Partials {
			s.Partials[i].ExpiresAt = now
		}
	})

	t.Run("arrival", func(t *testing.T) {
		for _, c := range []struct {
			name    string
			s       State
			c       commands.ReceivePartialIncomingPayment
			events  []events.Event
			kind    apperr.Kind
			message string
		}{
			{"into an open payment", processing, arrival, []events.Event{received}, "", ""},
			{"its data kept as text", pending, arrivalWith(arrival, func(c *commands.ReceivePartialIncomingPayment) { c.DataFromSender = []byte{'a', 0xff} }),
				[]events.Event{&events.IncomingPaymentPartialReceived{PartialIncomingPaymentID: partialID, DataFromSender: "a\uFFFD",
					Amount: 40, ExpiresAt: packetExpiry}}, "", ""},
			{"again", waits, arrival, nil, "", ""},
			{"into a completed payment", completed, arrival, nil, apperr.InvalidInput, "invalid state"},
			{"into a deleted payment", deleted, arrival, nil, apperr.NotFound, "unknown payment"},
			{"without data", processing, arrivalWith(arrival, func(c *commands.ReceivePartialIncomingPayment) { c.DataFromSender = nil }),
				nil, apperr.InvalidInput, "a partial payment brings money and data"},
			{"expired", processing, arrivalWith(arrival, func(c *commands.ReceivePartialIncomingPayment) { c.ExpiresAt = now }),
				nil, apperr.InvalidInput, "the packet expired"},
			{"too many waiting", full, arrival, nil, apperr.Conflict, "too many partial payments wait for a decision"},
			{"many that expired", stale, arrival, []events.Event{received}, "", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				got, err := decideReceivePartial(c.s, c.c, now)
				want(t, got, err, c.events, c.kind, c.message)
				if err == nil {
					if err := checkTransitions(c.s, got); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	})

	t.Run("decision", func(t *testing.T) {
		accept := commands.DecidePartialIncomingPayment{Meta: meta(owner), IncomingPaymentID: paymentIDValue,
			PartialIncomingPaymentID: partialID, Accept: true}
		refuse := decisionWith(accept, func(c *commands.DecidePartialIncomingPayment) { c.Accept, c.Reason = false, str("no KYC") })
		for _, c := range []struct {
			name    string
			s       State
			c       commands.DecidePartialIncomingPayment
			at      time.Time
			events  []events.Event
			kind    apperr.Kind
			message string
		}{
			{"accepted", waits, accept, now, []events.Event{&events.IncomingPaymentPartialDecided{PartialIncomingPaymentID: partialID, Accepted: true}}, "", ""},
			{"accepted with a reason, which is dropped", waits, decisionWith(accept, func(c *commands.DecidePartialIncomingPayment) { c.Reason = str("fine") }), now,
				[]events.Event{&events.IncomingPaymentPartialDecided{PartialIncomingPaymentID: partialID, Accepted: true}}, "", ""},
			{"refused", waits, refuse, now, []events.Event{&events.IncomingPaymentPartialDecided{PartialIncomingPaymentID: partialID,
				Reason: str("no KYC")}}, "", ""},
			{"by the operator", waits, decisionWith(accept, func(c *commands.DecidePartialIncomingPayment) { c.Actor = operator }), now,
				[]events.Event{&events.IncomingPaymentPartialDecided{PartialIncomingPaymentID: partialID, Accepted: true}}, "", ""},
			{"by another tenant", waits, decisionWith(accept, func(c *commands.DecidePartialIncomingPayment) { c.Actor = stranger }), now,
				nil, apperr.NotFound, "unknown payment"},
			{"unknown partial payment", processing, accept, now, nil, apperr.NotFound, "unknown partial incoming payment"},
			{"too late", waits, accept, packetExpiry, nil, apperr.Conflict, "the partial payment's packet expired before the decision"},
			{"of a completed payment", with(waits, func(s *State) { s.State = StateCompleted }), accept, now, nil, apperr.InvalidInput, "invalid state"},
		} {
			t.Run(c.name, func(t *testing.T) {
				got, err := decidePartial(c.s, c.c, c.at)
				want(t, got, err, c.events, c.kind, c.message)
				if err == nil {
					if err := checkTransitions(c.s, got); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	})

	t.Run("waiting partials", func(t *testing.T) {
		env := func(at time.Time) events.Envelope { return events.Envelope{AggregateID: paymentIDValue, Time: at} }
		s := Evolve(processing, env(now), received)
		if len(s.Partials) != 1 || s.Partials[0].ID != partialID {
			t.Fatalf("after arrival: %+v", s.Partials)
		}
		other := &events.IncomingPaymentPartialReceived{PartialIncomingPaymentID: "later", Amount: 1, ExpiresAt: packetExpiry.Add(time.Minute)}
		// A partial payment arriving after the first's packet expired
		// drops it; the state it came from is left as it was.
		later := Evolve(s, env(packetExpiry), other)
		if len(later.Partials) != 1 || later.Partials[0].ID != "later" || len(s.Partials) != 1 || s.Partials[0].ID != partialID {
			t.Fatalf("after a later arrival: %+v, before it: %+v", later.Partials, s.Partials)
		}
		decided := Evolve(s, env(now), &events.IncomingPaymentPartialDecided{PartialIncomingPaymentID: partialID, Accepted: true})
		if len(decided.Partials) != 0 {
			t.Fatalf("after the decision: %+v", decided.Partials)
		}
		if err := checkTransitions(decided, []events.Event{&events.IncomingPaymentPartialDecided{PartialIncomingPaymentID: partialID}}); err == nil {
			t.Fatal("a partial payment decided twice passed the transitions check")
		}
	})
}

func arrivalWith(c commands.ReceivePartialIncomingPayment, mod func(*commands.ReceivePartialIncomingPayment)) commands.ReceivePartialIncomingPayment {
	mod(&c)
	return c
}

func decisionWith(c commands.DecidePartialIncomingPayment, mod func(*commands.DecidePartialIncomingPayment)) commands.DecidePartialIncomingPayment {
	mod(&c)
	return c
}
