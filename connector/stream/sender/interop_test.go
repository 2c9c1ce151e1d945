package sender

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/stream"
)

// TestPaysTheReferenceReceiver pays the reference STREAM receiver
// (ilp-protocol-stream behind ilp-plugin-http, pinned in package.json, run by
// scripts/interop/stream-receive.mjs) over ILP-over-HTTP: a fixed source
// amount straight to it, then a fixed delivery through a hop that refuses
// packets above 10,000 (F08), then a fixed source amount through a hop
// that also converts at 0.5, the last two with data, and checks that what
// the sender counts is exactly what the receiver got, that the data arrived
// once, and that it saw the streams closed.
func TestPaysTheReferenceReceiver(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to run the reference STREAM receiver: %v", err)
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	if _, err := os.Stat(filepath.Join(root, "node_modules", "ilp-protocol-stream")); err != nil {
		t.Fatalf("the reference packages are not installed (scripts/test-deps.sh): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "scripts", "interop", "stream-receive.mjs"))
	cmd.Dir = root
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"PEER_TOKEN=interop-token", "ASSET_CODE=EUR", "ASSET_SCALE=2"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("stream-receive.mjs: %v\n%s", err, stderr.String())
		}
	}()
	lines := bufio.NewScanner(stdout)
	readLine := func(v any) {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("stream-receive.mjs printed nothing: %v\n%s", lines.Err(), stderr.String())
		}
		if err := json.Unmarshal(lines.Bytes(), v); err != nil {
			t.Fatalf("stream-receive.mjs printed %q: %v\n%s", lines.Text(), err, stderr.String())
		}
	}
	var creds struct {
		Endpoint, DestinationAccount, SharedSecret string
	}
	readLine(&creds)
	secret, err := base64.StdEncoding.DecodeString(creds.SharedSecret)
	if err != nil {
		t.Fatal(err)
	}
	direct := HTTP(nil, creds.Endpoint, "interop-token")
	// hop is a connector in front of the receiver: it refuses packets
	// above maxPacket (F08) and converts at rate, rounding down.
	hop := func(maxPacket uint64, rate *big.Rat) SendFunc {
		return func(ctx context.Context, p ilp.Prepare) (ilp.Packet, error) {
			if p.Amount > maxPacket {
				return ilp.Reject{Code: ilp.CodeAmountTooLarge, TriggeredBy: "test.hop",
					Data: ilp.EncodeAmountTooLarge(ilp.AmountTooLarge{ReceivedAmount: p.Amount, MaximumAmount: maxPacket})}, nil
			}
			p.Amount = mulFloor(p.Amount, rate)
			return direct(ctx, p)
		}
	}

	payments := []struct {
		name          string
		send          SendFunc
		fixedDelivery bool
		amount        uint64
		// the probe's lower rate and max packet amount (at least
		// probeAmountMax when no hop refuses packets)
		rate      *big.Rat
		maxPacket uint64
		// the outcome
		sent, delivered uint64
		packets         int
		// data for the receiver's application
		data string
	}{
		{"a fixed source amount", direct, false, 123_456, big.NewRat(1, 1), probeAmountMax, 123_456, 123_456, 1, ""},
		{"a fixed delivery in packets", hop(10_000, big.NewRat(1, 1)), true, 45_678, big.NewRat(1, 1), 10_000, 45_678, 45_678, 5, "invoice 42 ✓"},
		{"a fixed source amount at 0.5", hop(10_000, big.NewRat(1, 2)), false, 30_002, big.NewRat(1, 2), 10_000, 30_002, 15_001, 4, "{\"kyc\":\"ok\"}"},
	}
	var delivered uint64
	var packets int
	for _, pay := range payments {
		c, err := Sender{Send: pay.send}.Connect(ctx, creds.DestinationAccount, secret)
		if err != nil {
			t.Fatalf("%s: Connect: %v", pay.name, err)
		}
		if a, ok := c.Asset(); !ok || a != (stream.Asset{Code: "EUR", Scale: 2}) {
			t.Fatalf("%s: the receiver's asset %+v %v", pay.name, a, ok)
		}
		p, err := c.Probe(ctx)
		if err != nil {
			t.Fatalf("%s: Probe: %v", pay.name, err)
		}
		if p.RateLow.Cmp(pay.rate) != 0 || p.MaxPacketAmount < pay.maxPacket || (pay.maxPacket < probeAmountMax && p.MaxPacketAmount != pay.maxPacket) {
			t.Fatalf("%s: probe [%s, %s) max %d", pay.name, p.RateLow, p.RateHigh, p.MaxPacketAmount)
		}
		var q Quote
		if pay.fixedDelivery {
			q, err = QuoteDelivery(p, pay.amount, Terms{Slippage: 0.01})
		} else {
			q, err = QuoteSend(p, pay.amount, Terms{Slippage: 0.01})
		}
		if err != nil {
			t.Fatalf("%s: quote: %v", pay.name, err)
		}
		q.Data = []byte(pay.data)
		out, err := c.Pay(ctx, q)
		if err != nil {
			t.Fatalf("%s: Pay: %v (outcome %+v)", pay.name, err, out)
		}
		if out.Sent != pay.sent || out.Delivered != pay.delivered || out.Packets != pay.packets {
			t.Fatalf("%s: outcome %+v, want %d sent and %d delivered in %d packets", pay.name, out, pay.sent, pay.delivered, pay.packets)
		}
		if err := c.Close(ctx); err != nil {
			t.Fatalf("%s: Close: %v", pay.name, err)
		}
		delivered += out.Delivered
		packets += out.Packets
	}

	if _, err := stdin.Write([]byte("done\n")); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Connections, Packets, StreamsClosed, ConnectionsEnded int
		Amount                                                string
		StreamTotals, StreamData                              []string
	}
	readLine(&got)
	t.Logf("the receiver: %+v", got)
	if got.Amount != strconv.FormatUint(delivered, 10) || got.Packets != packets || got.Connections != len(payments) {
		t.Fatalf("the receiver got %+v; the sender counts %d delivered in %d packets", got, delivered, packets)
	}
	if len(got.StreamTotals) != len(payments) || len(got.StreamData) != len(payments) {
		t.Fatalf("the receiver's streams got %v and data %q", got.StreamTotals, got.StreamData)
	}
	for i, pay := range payments {
		if got.StreamTotals[i] != strconv.FormatUint(pay.delivered, 10) {
			t.Fatalf("%s: the receiver's stream got %s, the sender counts %d delivered", pay.name, got.StreamTotals[i], pay.delivered)
		}
		if got.StreamData[i] != pay.data {
			t.Fatalf("%s: the receiver's stream got data %q, want %q", pay.name, got.StreamData[i], pay.data)
		}
	}
	if got.StreamsClosed != len(payments) || got.ConnectionsEnded != len(payments) {
		t.Fatalf("the receiver saw %d streams closed and %d connections ended of %d", got.StreamsClosed, got.ConnectionsEnded, len(payments))
	}
}
