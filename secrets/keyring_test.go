package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/secrets"
	"github.com/rafiki-go/rafiki/testkit"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, secrets.KeySize) }

func keyring(t *testing.T, js jetstream.JetStream, master []byte, previous ...[]byte) *secrets.Keyring {
	t.Helper()
	k, err := secrets.New(js, "EVENT_KEYS", master, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// envelope is how a reader finds an event sealed for aggregate id.
func envelope(typ, id string, ev events.Event) events.Envelope {
	return events.Envelope{Type: ev.EventType(), SchemaVersion: ev.SchemaVersion(), AggregateType: typ, AggregateID: id, Sequence: 1}
}

func sealTenant(t *testing.T, k *secrets.Keyring, id string) *events.TenantCreated {
	t.Helper()
	ev, err := k.SealEvent(context.Background(), "tenant", id, &events.TenantCreated{APISecret: "api-plain", IDPSecret: "idp-plain", PublicName: "P"})
	if err != nil {
		t.Fatal(err)
	}
	return ev.(*events.TenantCreated)
}

func TestSealOpenShred(t *testing.T) {
	ctx := context.Background()
	n := testkit.StartNATS(t, false)
	k := keyring(t, n.JS, key(1))
	id, other := uuid.NewString(), uuid.NewString()
	sealed := sealTenant(t, k, id)
	if strings.Contains(sealed.APISecret, "plain") || strings.Contains(sealed.IDPSecret, "plain") || sealed.PublicName != "P" {
		t.Fatalf("sealed %+v", sealed)
	}

	// Another process with the same master key opens it.
	opened, err := keyring(t, n.JS, key(1)).OpenEvent(ctx, envelope("tenant", id, sealed), sealed)
	if err != nil {
		t.Fatal(err)
	}
	if o := opened.(*events.TenantCreated); o.APISecret != "api-plain" || o.IDPSecret != "idp-plain" {
		t.Fatalf("opened %+v", o)
	}

	// A sealed secret is bound to its aggregate, event and field.
	sealTenant(t, k, other)
	for name, try := range map[string]func() (events.Event, error){
		"another aggregate": func() (events.Event, error) {
			return k.OpenEvent(ctx, envelope("tenant", other, sealed), sealed)
		},
		"another field": func() (events.Event, error) {
			swapped := *sealed
			swapped.APISecret, swapped.IDPSecret = sealed.IDPSecret, sealed.APISecret
			return k.OpenEvent(ctx, envelope("tenant", id, &swapped), &swapped)
		},
		"another event": func() (events.Event, error) {
			u := &events.TenantUpdated{APISecret: &sealed.APISecret}
			return k.OpenEvent(ctx, envelope("tenant", id, u), u)
		},
		"another master key": func() (events.Event, error) {
			return keyring(t, n.JS, key(2)).OpenEvent(ctx, envelope("tenant", id, sealed), sealed)
		},
		"a plain value": func() (events.Event, error) {
			plain := &events.TenantCreated{APISecret: "api-plain"}
			return k.OpenEvent(ctx, envelope("tenant", id, plain), plain)
		},
	} {
		if ev, err := try(); err == nil {
			t.Errorf("%s opened: %+v", name, ev)
		}
	}

	// An event recorded before sealing holds its secrets in plain text.
	legacy := &events.TenantCreated{APISecret: "old-plain"}
	env := envelope("tenant", id, legacy)
	env.SchemaVersion = 1
	if ev, err := k.OpenEvent(ctx, env, legacy); err != nil || ev.(*events.TenantCreated).APISecret != "old-plain" {
		t.Fatalf("legacy event: %+v %v", ev, err)
	}

	// Shredding makes the secrets unreadable for every process, for good.
	if err := k.Shred(ctx, "tenant", id); err != nil {
		t.Fatal(err)
	}
	for _, reader := range []*secrets.Keyring{k, keyring(t, n.JS, key(1))} {
		ev, err := reader.OpenEvent(ctx, envelope("tenant", id, sealed), sealed)
		if err != nil {
			t.Fatal(err)
		}
		if o := ev.(*events.TenantCreated); o.APISecret != "" || o.IDPSecret != "" || o.PublicName != "P" {
			t.Fatalf("shredded secrets read as %+v", o)
		}
	}
	if _, err := k.SealEvent(ctx, "tenant", id, &events.TenantUpdated{APISecret: &sealed.PublicName}); !errors.Is(err, secrets.ErrShredded) {
		t.Fatalf("sealing for a shredded aggregate: %v", err)
	}
	if err := k.Shred(ctx, "tenant", id); err != nil {
		t.Fatalf("shredding again: %v", err)
	}
	// The key's message is gone from the stream, not only superseded.
	stream, err := n.JS.Stream(ctx, "EVENT_KEYS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter("event_keys.tenant."+id))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Subjects["event_keys.tenant."+id]; got != 1 {
		t.Fatalf("the shredded aggregate's subject holds %d messages, want the shred record only", got)
	}
	// The other tenant's secrets are untouched.
	sealedOther := sealTenant(t, k, other)
	if ev, err := k.OpenEvent(ctx, envelope("tenant", other, sealedOther), sealedOther); err != nil ||
		ev.(*events.TenantCreated).APISecret != "api-plain" {
		t.Fatalf("other tenant: %+v %v", ev, err)
	}
}

func TestPeerTokensOfAShreddedPeerAreDropped(t *testing.T) {
	ctx := context.Background()
	n := testkit.StartNATS(t, false)
	k := keyring(t, n.JS, key(1))
	id := uuid.NewString()
	ev, err := k.SealEvent(ctx, "peer", id, &events.PeerCreated{IncomingAuthTokens: []string{"in-1", "in-2"}, OutgoingAuthToken: "out"})
	if err != nil {
		t.Fatal(err)
	}
	sealed := ev.(*events.PeerCreated)
	if len(sealed.IncomingAuthTokens) != 2 || strings.Contains(sealed.IncomingAuthTokens[0]+sealed.OutgoingAuthToken, "in-") {
		t.Fatalf("sealed %+v", sealed)
	}
	if err := k.Shred(ctx, "peer", id); err != nil {
		t.Fatal(err)
	}
	opened, err := k.OpenEvent(ctx, envelope("peer", id, sealed), sealed)
	if err != nil {
		t.Fatal(err)
	}
	if o := opened.(*events.PeerCreated); len(o.IncomingAuthTokens) != 0 || o.OutgoingAuthToken != "" {
		t.Fatalf("a shredded peer's tokens: %+v", o)
	}
}

func TestMissingKeyIsAnErrorNotAShred(t *testing.T) {
	ctx := context.Background()
	sealed := sealTenant(t, keyring(t, testkit.StartNATS(t, false).JS, key(1)), "t1")
	// The same events on a server whose key stream lost the key.
	_, err := keyring(t, testkit.StartNATS(t, false).JS, key(1)).OpenEvent(ctx, envelope("tenant", "t1", sealed), sealed)
	if !errors.Is(err, secrets.ErrKeyMissing) {
		t.Fatalf("opening without the key: %v", err)
	}
}

func TestRewrapAfterRotation(t *testing.T) {
	ctx := context.Background()
	n := testkit.StartNATS(t, false)
	old := keyring(t, n.JS, key(1))
	sealed := sealTenant(t, old, "t1")
	rotated := keyring(t, n.JS, key(2), key(1))
	if got, err := rotated.Rewrap(ctx); err != nil || got != 1 {
		t.Fatalf("rewrap: %d %v", got, err)
	}
	if got, err := rotated.Rewrap(ctx); err != nil || got != 0 {
		t.Fatalf("rewrap again: %d %v", got, err)
	}
	// The new key alone opens the secrets; the old one no longer does.
	if ev, err := keyring(t, n.JS, key(2)).OpenEvent(ctx, envelope("tenant", "t1", sealed), sealed); err != nil ||
		ev.(*events.TenantCreated).APISecret != "api-plain" {
		t.Fatalf("after rewrap: %+v %v", ev, err)
	}
	if _, err := keyring(t, n.JS, key(1)).OpenEvent(ctx, envelope("tenant", "t1", sealed), sealed); err == nil {
		t.Fatal("the retired master key still opens the data key")
	}
}

// An outgoing payment's data for its receiver is sealed like any secret; a
// payment funded without data gets no data key, and a funding recorded
// before data was sealed (schema version 1) opens as it is.
func TestOutgoingPaymentDataIsSealed(t *testing.T) {
	ctx := context.Background()
	n := testkit.StartNATS(t, false)
	k := keyring(t, n.JS, key(1))
	id := uuid.NewString()
	ev, err := k.SealEvent(ctx, "outgoing_payment", id, &events.OutgoingPaymentFunded{Amount: 500, DataToTransmit: "name=Alice"})
	if err != nil {
		t.Fatal(err)
	}
	sealed := ev.(*events.OutgoingPaymentFunded)
	if strings.Contains(sealed.DataToTransmit, "Alice") || sealed.DataToTransmit == "" || sealed.Amount != 500 {
		t.Fatalf("sealed %+v", sealed)
	}
	opened, err := k.OpenEvent(ctx, envelope("outgoing_payment", id, sealed), sealed)
	if err != nil || opened.(*events.OutgoingPaymentFunded).DataToTransmit != "name=Alice" {
		t.Fatalf("opened %+v %v", opened, err)
	}

	none := uuid.NewString()
	if ev, err := k.SealEvent(ctx, "outgoing_payment", none, &events.OutgoingPaymentFunded{Amount: 500}); err != nil ||
		*ev.(*events.OutgoingPaymentFunded) != (events.OutgoingPaymentFunded{Amount: 500}) {
		t.Fatalf("sealed without data: %+v %v", ev, err)
	}
	stream, err := n.JS.Stream(ctx, "EVENT_KEYS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.GetLastMsgForSubject(ctx, "event_keys.outgoing_payment."+none); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("a payment without data got a data key: %v", err)
	}

	env, err := events.Unmarshal([]byte(`{"type":"outgoing_payment.funded","schemaVersion":1,"aggregateType":"outgoing_payment",`+
		`"aggregateId":"`+none+`","data":{"amount":500}}`), 1)
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := events.Decode(env)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := k.OpenEvent(ctx, env, legacy); err != nil || *ev.(*events.OutgoingPaymentFunded) != (events.OutgoingPaymentFunded{Amount: 500}) {
		t.Fatalf("a funding of schema version 1: %+v %v", ev, err)
	}
}
