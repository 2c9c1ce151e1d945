package receiver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/opclient"
	"github.com/rafiki-go/rafiki/readmodel"
)

func TestActive(t *testing.T) {
	now := time.Now()
	later, earlier := now.Add(time.Minute), now.Add(-time.Minute)
	methods := []opclient.Method{{Type: "ilp", ILPAddress: "test.x", SharedSecret: "s"}}
	for _, tc := range []struct {
		name   string
		r      Receiver
		active bool
	}{
		{"open", Receiver{ExpiresAt: &later, Methods: methods, Payable: true}, true},
		{"without expiry", Receiver{Methods: methods, Payable: true}, true},
		{"local, open, without its credentials", Receiver{ExpiresAt: &later, LocalPaymentID: "1", Payable: true}, true},
		{"completed", Receiver{Completed: true, ExpiresAt: &later, Methods: methods, Payable: true}, false},
		{"expired", Receiver{ExpiresAt: &earlier, Methods: methods, Payable: true}, false},
		{"expiring now", Receiver{ExpiresAt: &now, Methods: methods, Payable: true}, false},
		{"taking no money", Receiver{ExpiresAt: &later}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Active(now); got != tc.active {
				t.Fatalf("Active %v, want %v", got, tc.active)
			}
		})
	}
}

func TestRemote(t *testing.T) {
	payment := func(received string, incoming *opclient.Amount) opclient.IncomingPayment {
		return opclient.IncomingPayment{ID: "https://rs.example/t/incoming-payments/x", WalletAddress: "https://rs.example/bob",
			ReceivedAmount: opclient.Amount{Value: received, AssetCode: "USD", AssetScale: 2}, IncomingAmount: incoming}
	}
	for _, tc := range []struct {
		name     string
		p        opclient.IncomingPayment
		ok       bool
		incoming *Amount
	}{
		{"amounts", payment("5", &opclient.Amount{Value: "10", AssetCode: "USD", AssetScale: 2}), true,
			&Amount{Value: 10, AssetCode: "USD", AssetScale: 2}},
		{"no incoming amount", payment("0", nil), true, nil},
		// What the Open Payments SDK refuses.
		{"amounts in two assets", payment("5", &opclient.Amount{Value: "10", AssetCode: "EUR", AssetScale: 3}), false, nil},
		{"more received than expected", payment("11", &opclient.Amount{Value: "10", AssetCode: "USD", AssetScale: 2}), false, nil},
		{"metadata not an object", func() opclient.IncomingPayment {
			p := payment("0", nil)
			p.Metadata = []byte(`"a string"`)
			return p
		}(), false, nil},
		{"a method's ILP address no ILP address", func() opclient.IncomingPayment {
			p := payment("0", nil)
			p.Methods = []opclient.Method{{Type: "ilp", ILPAddress: "not an ILP address!", SharedSecret: "AAAA"}}
			return p
		}(), false, nil},
		{"no asset", func() opclient.IncomingPayment {
			p := payment("0", nil)
			p.ReceivedAmount.AssetCode = ""
			return p
		}(), false, nil},
		{"received not a number", payment("five", nil), false, nil},
		{"received negative", payment("-1", nil), false, nil},
		{"incoming beyond 64 bits", payment("0", &opclient.Amount{Value: "18446744073709551616"}), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := remote(tc.p)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if r.ID != tc.p.ID || r.WalletAddressURL != tc.p.WalletAddress || r.Local() || r.ReceivedAmount.AssetCode != "USD" ||
				(tc.incoming == nil) != (r.IncomingAmount == nil) || (tc.incoming != nil && *r.IncomingAmount != *tc.incoming) {
				t.Fatalf("receiver %+v", r)
			}
		})
	}
}

func TestPaymentURL(t *testing.T) {
	for url, want := range map[string]bool{
		"https://rs.example/t/incoming-payments/0b2b0b6e-6d2f-4b8e-9a4a-7c1b9e2f3a10": true,
		"https://rs.example/incoming-payments/0b2b0b6e-6d2f-4b8e-9a4a-7c1b9e2f3a10":   true,
		"https://rs.example/t/incoming-payments/short":                                false,
		"https://rs.example/t/outgoing-payments/0b2b0b6e-6d2f-4b8e-9a4a-7c1b9e2f3a10": false,
		"/incoming-payments/0b2b0b6e-6d2f-4b8e-9a4a-7c1b9e2f3a10":                     false,
	} {
		if got := paymentURL.MatchString(url); got != want {
			t.Errorf("%s: %v, want %v", url, got, want)
		}
	}
}

// A wallet address found by its URL is used again until its time is up;
// one not found, or any with no time set, is read again every time.
func TestWalletAddressLookUpsKept(t *testing.T) {
	const ttl = 15 * time.Second
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		found bool
		after time.Duration // between the two look-ups
		reads int
	}{
		{"found, within its time", ttl, true, ttl - time.Millisecond, 1},
		{"found, its time up", ttl, true, ttl, 2},
		{"not found", ttl, false, time.Millisecond, 2},
		{"no time set", 0, true, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			reads := 0
			s := &Service{cfg: Config{WalletAddressTTL: tc.ttl}, now: func() time.Time { return now },
				byURL: map[string]cachedWalletAddress{}}
			s.findWalletAddress = func(_ context.Context, url string) (*readmodel.WalletAddress, error) {
				reads++
				if !tc.found {
					return nil, nil
				}
				return &readmodel.WalletAddress{ID: "wa", Address: url}, nil
			}
			for i := range 2 {
				if i == 1 {
					now = now.Add(tc.after)
				}
				wa, err := s.walletAddress(context.Background(), "https://wallet.example/alice")
				if err != nil || (wa != nil) != tc.found || (wa != nil && wa.Address != "https://wallet.example/alice") {
					t.Fatalf("look-up %d: %+v %v", i, wa, err)
				}
			}
			if reads != tc.reads {
				t.Fatalf("%d reads, want %d", reads, tc.reads)
			}
		})
	}
}

func TestWalletAddressLookUpsBounded(t *testing.T) {
	s := &Service{cfg: Config{WalletAddressTTL: time.Minute}, now: time.Now, byURL: map[string]cachedWalletAddress{}}
	s.findWalletAddress = func(_ context.Context, url string) (*readmodel.WalletAddress, error) {
		return &readmodel.WalletAddress{Address: url}, nil
	}
	for i := range walletAddressesCachedMax + 1 {
		if _, err := s.walletAddress(context.Background(), fmt.Sprintf("https://wallet.example/%d", i)); err != nil {
			t.Fatal(err)
		}
		if len(s.byURL) > walletAddressesCachedMax {
			t.Fatalf("%d wallet addresses kept after %d look-ups", len(s.byURL), i+1)
		}
	}
}
