package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/stream"
)

// packetClients is how many senders the packet benchmark runs at once.
const packetClients = 32

// BenchmarkStreamReceive sends STREAM money packets from a peer to a wallet
// address, and to one incoming payment, through the backend's ILP-over-HTTP
// listener with the Postgres ledger, from packetClients senders, against a
// bare net/http handler answering the same bytes in the same run:
//
//	go test -run '^$' -bench StreamReceive -benchtime 1x -count 3 ./app/
func BenchmarkStreamReceive(b *testing.B) {
	s := startSystem(b, true)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		b.Fatal(err)
	}
	// One peer a sender: Rafiki's connector takes 10,000 packets a minute
	// from one peer.
	for i := range packetClients {
		if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
			"assetId": usd.ID, "staticIlpAddress": fmt.Sprintf("test.bench%d", i), "initialLiquidity": "1000000000",
			"http": map[string]any{"incoming": map[string]any{"authTokens": []string{fmt.Sprintf("bench-token-%d", i)}},
				"outgoing": map[string]any{"authToken": "unused", "endpoint": "http://127.0.0.1:9/unused"}}}}, nil); err != nil {
			b.Fatal(err)
		}
	}
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": "bench", "publicName": "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	ip, err := createIncomingPayment(ctx, op, map[string]any{"walletAddressId": wa.ID})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("wallet address", func(b *testing.B) { benchmarkStreamReceive(b, s, wa.ID) })
	b.Run("incoming payment", func(b *testing.B) { benchmarkStreamReceive(b, s, ip.ID) })
}

// benchmarkStreamReceive pays the receiver with this id.
func benchmarkStreamReceive(b *testing.B, s *system, id string) {
	address, secret, err := s.running.Deps.StreamCredentials.Generate("test.rafiki", stream.Tag{ID: uuid.MustParse(id)})
	if err != nil {
		b.Fatal(err)
	}
	keys, err := stream.NewKeys(secret)
	if err != nil {
		b.Fatal(err)
	}
	prepare := func() []byte {
		data, err := keys.Seal(stream.Packet{Version: stream.Version, Type: stream.TypePrepare, Sequence: 1, PrepareAmount: 1,
			Frames: []stream.Frame{stream.StreamMoney{StreamID: 1, Shares: 1}}})
		if err != nil {
			b.Fatal(err)
		}
		body, err := ilp.EncodePrepare(ilp.Prepare{Amount: 1, ExpiresAt: time.Now().Add(time.Minute).Truncate(time.Millisecond),
			ExecutionCondition: stream.Condition(keys.Fulfillment(data)), Destination: address, Data: data})
		if err != nil {
			b.Fatal(err)
		}
		return body
	}
	bodies := make([][]byte, packetClients)
	for i := range bodies {
		bodies[i] = prepare()
	}
	connectorURL, err := s.running.URL(app.ConnectorListener)
	if err != nil {
		b.Fatal(err)
	}
	client := keepAliveClient(packetClients)
	send := func(url string, sender int, body []byte) ([]byte, error) {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Authorization", fmt.Sprintf("Bearer bench-token-%d", sender))
		req.Header.Set("Content-Type", connector.ContentType)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	var reply []byte
	// The connector learns of the peers and the payment from their events,
	// a moment after.
	for try := 0; ; try++ {
		if reply, err = send(connectorURL, packetClients-1, bodies[0]); err == nil && len(reply) > 0 && ilp.Type(reply[0]) == ilp.TypeFulfill {
			break
		}
		if try == 100 {
			b.Fatalf("first packet: %x %v", reply, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", connector.ContentType)
		_, _ = w.Write(reply)
	}))
	defer bare.Close()
	load := func(url string, d time.Duration) loadResult {
		return drive(packetClients, 0, d, func(w, _ int) error {
			got, err := send(url, w, bodies[w])
			if err != nil {
				return err
			}
			if len(got) == 0 || ilp.Type(got[0]) != ilp.TypeFulfill {
				return fmt.Errorf("not fulfilled: %x", got)
			}
			return nil
		}, nil)
	}
	b.ResetTimer()
	var ours, theirs loadResult
	for range getRounds {
		ours.add(load(connectorURL, getSlice))
		theirs.add(load(bare.URL, getSlice))
	}
	b.StopTimer()
	if ours.failed > 0 {
		b.Errorf("%d packets failed, first: %v", ours.failed, ours.firstErr)
	}
	ratio := ours.perSecond() / theirs.perSecond()
	b.Logf("ours %.0f packets/s p50 %.2f ms p99 %.2f ms %.0f µs CPU/packet | bare %.0f req/s | ratio %.3f (target ≥ 5,000 packets/s, p99 ≤ 20 ms)",
		ours.perSecond(), ours.quantileMS(0.50), ours.quantileMS(0.99), 1000*ours.cpuPerOpMS(), theirs.perSecond(), ratio)
	b.ReportMetric(ours.perSecond(), "packets/s")
	b.ReportMetric(ours.quantileMS(0.99), "p99-ms")
	b.ReportMetric(ratio, "ratio")
}
