package stream

import (
	"bytes"
	"crypto/rand"
	"regexp"
	"testing"

	"github.com/google/uuid"
)

func newCredentials(t testing.TB) *Credentials {
	t.Helper()
	secret := make([]byte, SecretLength)
	_, _ = rand.Read(secret)
	c, err := NewCredentials(secret)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var ilpAddress = regexp.MustCompile(`^(g|private|example|peer|self|test[1-3]?|local)([.][a-zA-Z0-9_~-]+)+$`)

func TestCredentialsRoundTrip(t *testing.T) {
	c := newCredentials(t)
	receipt := &ReceiptSetup{}
	_, _ = rand.Read(receipt.Nonce[:])
	_, _ = rand.Read(receipt.Secret[:])
	for _, tag := range []Tag{{ID: uuid.New()}, {ID: uuid.New(), Receipt: receipt}} {
		address, secret, err := c.Generate("test.rafiki.tenant", tag)
		if err != nil {
			t.Fatal(err)
		}
		if !ilpAddress.MatchString(address) || len(address) > 1023 || len(secret) != 32 {
			t.Fatalf("address %q, secret %d bytes", address, len(secret))
		}
		got, again, err := c.Open("test.rafiki.tenant", address+".connection-suffix")
		if err != nil || got.ID != tag.ID || !bytes.Equal(again, secret) {
			t.Fatalf("opened %+v %v", got, err)
		}
		if (got.Receipt == nil) != (tag.Receipt == nil) || (got.Receipt != nil && *got.Receipt != *tag.Receipt) {
			t.Fatalf("receipt setup %+v, want %+v", got.Receipt, tag.Receipt)
		}
		other, _, _ := c.Generate("test.rafiki.tenant", tag)
		if other == address {
			t.Fatal("two generations gave the same address")
		}
	}
}

func TestCredentialsRejectForeignAndTampered(t *testing.T) {
	c := newCredentials(t)
	address, _, _ := c.Generate("test.a", Tag{ID: uuid.New()})
	if _, _, err := newCredentials(t).Open("test.a", address); err != ErrNotOurs {
		t.Fatalf("another secret opened it: %v", err)
	}
	if _, _, err := c.Open("test.b", address); err != ErrNotOurs {
		t.Fatalf("another base opened it: %v", err)
	}
	tampered := []byte(address)
	tampered[len(tampered)-3] ^= 1
	if _, _, err := c.Open("test.a", string(tampered)); err != ErrNotOurs {
		t.Fatalf("a tampered token opened: %v", err)
	}
	if _, err := NewCredentials(make([]byte, 16)); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

func FuzzOpen(f *testing.F) {
	c := newCredentials(f)
	address, _, _ := c.Generate("test.a", Tag{ID: uuid.New()})
	f.Add(address)
	f.Add("test.a.")
	f.Add("test.a.AAAA")
	f.Fuzz(func(t *testing.T, address string) {
		_, _, _ = c.Open("test.a", address)
	})
}
