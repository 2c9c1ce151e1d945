package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/testkit"
)

// BenchmarkPaymentsWorkload runs Rafiki's performance workload
// (test/performance, create-local-outgoing-payments): per iteration, signed
// admin GraphQL calls creating an incoming payment on a wallet address of
// this instance, a quote of a 500 debit for it, and an outgoing payment of
// the quote, from 25 clients, with NATS syncing every write as `make run`
// does, and the webhooks delivered to a receiver in the process that
// answers 200, as Rafiki's run of the workload has its mock wallet. With
// funding (BenchmarkFundedPayments) each payment is funded and
// waited for until its outgoing_payment.completed webhook arrives.
func BenchmarkPaymentsWorkload(b *testing.B) { benchmarkPayments(b, mutationClients, false, false) }

// BenchmarkPaymentsWorkloadReceivers is the workload as the later versions
// of Rafiki's k6 script (create-local-outgoing-payments.js) send it: the
// incoming payment made with createReceiver on the receiving wallet
// address's URL, with the script's metadata, and amounts given as numbers.
// The earlier versions send createIncomingPayment, as
// BenchmarkPaymentsWorkload does.
func BenchmarkPaymentsWorkloadReceivers(b *testing.B) {
	benchmarkPayments(b, mutationClients, false, true)
}

// BenchmarkFundedPayments is the workload with each payment funded and
// waited for, at several concurrencies: completed payments/s and the time
// from funding to completion.
func BenchmarkFundedPayments(b *testing.B) {
	for _, clients := range []int{1, 10, 25, 100} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchmarkPayments(b, clients, true, false) })
	}
}

// paymentEnd is a funded payment's last webhook, as the receiver got it.
type paymentEnd struct {
	at       time.Time
	typ, err string
}

const paymentsWorkload = `mutation($ip: CreateIncomingPaymentInput!) { createIncomingPayment(input: $ip) { payment { id url } } }`

const receiversWorkload = `mutation CreateReceiver($input: CreateReceiverInput!) { createReceiver(input: $input) { receiver { id } } }`

func benchmarkPayments(b *testing.B, clientsN int, fund, receivers bool) {
	var webhooksGot atomic.Int64
	// A funded payment's end is learnt from its webhook, as a wallet learns
	// it: the client waiting for it registers here before funding.
	var ends sync.Map // outgoing payment id → chan paymentEnd
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		webhooksGot.Add(1)
		if !fund {
			_, _ = io.Copy(io.Discard, r.Body)
			return
		}
		var ev struct {
			Type string
			Data struct{ ID, Error string }
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ev.Type != "outgoing_payment.completed" && ev.Type != "outgoing_payment.failed" {
			return
		}
		if ch, ok := ends.Load(ev.Data.ID); ok {
			select {
			case ch.(chan paymentEnd) <- paymentEnd{at: time.Now(), typ: ev.Type, err: ev.Data.Error}:
			default: // a delivery made again
			}
		}
	}))
	b.Cleanup(receiver.Close)
	s := startSystem(b, true, func(c *config.Config) { c.WebhookURL, c.WebhookMaxRetry = receiver.URL, 10 })
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		b.Fatal(err)
	}
	sender, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": "bench-sender"})
	if err != nil {
		b.Fatal(err)
	}
	payee, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": "bench-receiver"})
	if err != nil {
		b.Fatal(err)
	}
	httpClient := keepAliveClient(clientsN)
	clients := make([]*adminclient.Client, clientsN)
	for w := range clients {
		c := *s.operator
		c.HTTP = httpClient
		clients[w] = &c
	}
	usdAmount := func(v string) map[string]any { return map[string]any{"value": v, "assetCode": "USD", "assetScale": 2} }
	// createPayee makes the incoming payment an iteration pays, and
	// answers its URL.
	createPayee := func(ctx context.Context, c *adminclient.Client) (string, error) {
		if receivers {
			var out struct {
				CreateReceiver struct{ Receiver struct{ ID string } } `json:"createReceiver"`
			}
			err := c.Do(ctx, receiversWorkload, map[string]any{"input": map[string]any{"expiresAt": nil,
				"metadata":       map[string]any{"description": "Hello my friend", "externalRef": nil},
				"incomingAmount": map[string]any{"assetCode": "USD", "assetScale": 2, "value": 1002}, "walletAddressUrl": payee.Address}}, &out)
			if err != nil {
				return "", fmt.Errorf("createReceiver: %w", err)
			}
			return out.CreateReceiver.Receiver.ID, nil
		}
		var out struct {
			CreateIncomingPayment struct{ Payment struct{ ID, URL string } } `json:"createIncomingPayment"`
		}
		err := c.Do(ctx, paymentsWorkload, map[string]any{"ip": map[string]any{"walletAddressId": payee.ID,
			"incomingAmount": usdAmount("1002")}}, &out)
		if err != nil {
			return "", fmt.Errorf("createIncomingPayment: %w", err)
		}
		return out.CreateIncomingPayment.Payment.URL, nil
	}
	var mu sync.Mutex
	var completions []time.Duration
	completed := map[string]fundedAndTold{}
	var cpuBefore testkit.CPU
	var pgCPU, hostCPU time.Duration
	mark := func(begin bool) {
		if begin {
			cpuBefore = testkit.SampleCPU(b, s.running.Deps.Pool)
		} else {
			after := testkit.SampleCPU(b, s.running.Deps.Pool)
			_, pgCPU = after.Used(cpuBefore)
			hostCPU = after.HostUsed(cpuBefore)
		}
	}
	b.ResetTimer()
	var stepMu sync.Mutex
	steps := map[string][]time.Duration{}
	step := func(name string, began time.Time) {
		stepMu.Lock()
		steps[name] = append(steps[name], time.Since(began))
		stepMu.Unlock()
	}
	res := drive(clientsN, mutationWarmup, mutationRun, func(w, i int) error {
		c := clients[w]
		began := time.Now()
		receiverURL, err := createPayee(ctx, c)
		if err != nil {
			return err
		}
		step("incoming payment", began)
		began = time.Now()
		q, err := createQuote(ctx, c, map[string]any{"walletAddressId": sender.ID, "receiver": receiverURL,
			"debitAmount": usdAmount("500")})
		if err != nil {
			return fmt.Errorf("createQuote: %w", err)
		}
		step("createQuote", began)
		began = time.Now()
		var op struct {
			CreateOutgoingPayment struct{ Payment struct{ ID, State string } } `json:"createOutgoingPayment"`
		}
		if err := c.Do(ctx, `mutation($input: CreateOutgoingPaymentInput!) { createOutgoingPayment(input: $input) { payment { id state } } }`,
			map[string]any{"input": map[string]any{"walletAddressId": sender.ID, "quoteId": q.ID}}, &op); err != nil {
			return fmt.Errorf("createOutgoingPayment: %w", err)
		}
		step("createOutgoingPayment", began)
		if op.CreateOutgoingPayment.Payment.State != "FUNDING" {
			return errors.New("a new payment not FUNDING")
		}
		if !fund {
			return nil
		}
		ended := make(chan paymentEnd, 1)
		ends.Store(q.ID, ended)
		defer ends.Delete(q.ID)
		funded := time.Now()
		if err := c.Do(ctx, `mutation($input: DepositOutgoingPaymentLiquidityInput!) { depositOutgoingPaymentLiquidity(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"outgoingPaymentId": q.ID, "idempotencyKey": uuid.NewString()}}, nil); err != nil {
			return fmt.Errorf("depositOutgoingPaymentLiquidity: %w", err)
		}
		step("depositOutgoingPaymentLiquidity", funded)
		select {
		case end := <-ended:
			if end.typ != "outgoing_payment.completed" {
				return fmt.Errorf("payment %s: %s: %s", q.ID, end.typ, end.err)
			}
			mu.Lock()
			completions = append(completions, end.at.Sub(funded))
			completed[q.ID] = fundedAndTold{funded, end.at}
			mu.Unlock()
			return nil
		case <-time.After(30 * time.Second):
			return fmt.Errorf("payment %s: no outgoing_payment.completed webhook 30 s after funding", q.ID)
		}
	}, mark)
	b.StopTimer()
	for name, ds := range steps {
		slices.Sort(ds)
		b.Logf("%s: p50 %.1f ms, p99 %.1f ms", name, float64(ds[len(ds)/2])/1e6, float64(ds[len(ds)*99/100])/1e6)
	}
	if res.failed > 0 {
		b.Errorf("%d failed iterations, first: %v", res.failed, res.firstErr)
	}
	b.Logf("%d webhooks received during the run", webhooksGot.Load())
	pgPerOp, hostPerOp := 0.0, 0.0
	if res.ok > 0 {
		pgPerOp = float64(pgCPU) / float64(time.Millisecond) / float64(res.ok)
		hostPerOp = float64(hostCPU) / float64(time.Millisecond) / float64(res.ok)
	}
	b.Logf("%d clients: %.0f iterations/s, p50 %.1f ms, p99 %.1f ms, CPU/iteration %.2f ms in this process + %.2f ms in Postgres, %.2f ms on the whole machine, %.0f allocs/iteration",
		clientsN, res.perSecond(), res.quantileMS(0.50), res.quantileMS(0.99), res.cpuPerOpMS(), pgPerOp, hostPerOp, res.allocsPerOp())
	b.ReportMetric(res.perSecond(), "iterations/s")
	b.ReportMetric(res.quantileMS(0.50), "p50-ms")
	b.ReportMetric(res.quantileMS(0.99), "p99-ms")
	b.ReportMetric(res.cpuPerOpMS(), "cpu-ms/iteration")
	b.ReportMetric(pgPerOp, "pg-cpu-ms/iteration")
	b.ReportMetric(hostPerOp, "host-cpu-ms/iteration")
	if fund {
		slices.Sort(completions)
		if len(completions) > 0 {
			at := func(q float64) float64 {
				return float64(completions[int(q*float64(len(completions)-1))]) / float64(time.Millisecond)
			}
			over := 0
			for _, d := range completions {
				if d > time.Second {
					over++
				}
			}
			b.Logf("funded→completed: %d payments, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d over 1 s", len(completions), at(0.5), at(0.99), at(1), over)
			logSendingAndTelling(b, s, completed)
			b.ReportMetric(at(0.99), "completion-p99-ms")
			b.ReportMetric(float64(over), "completions-over-1s")
		}
	}
}

// fundedAndTold is when a payment was funded and when its completion
// webhook came.
type fundedAndTold struct{ funded, told time.Time }

// logSendingAndTelling splits each completed payment's time from funding to
// its webhook at its completion event, whose time the outgoing payments read
// model keeps (updated_at): how long sending took, then telling.
func logSendingAndTelling(b *testing.B, s *system, completed map[string]fundedAndTold) {
	ids := make([]string, 0, len(completed))
	for id := range completed {
		ids = append(ids, id)
	}
	rows, err := s.running.Deps.Pool.Query(context.Background(),
		`SELECT id::text, updated_at FROM rm_outgoing_payments.outgoing_payments WHERE id = ANY($1::uuid[]) AND state = 'COMPLETED'`, ids)
	if err != nil {
		b.Fatal(err)
	}
	var sending, telling []time.Duration
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			b.Fatal(err)
		}
		c := completed[id]
		sending, telling = append(sending, at.Sub(c.funded)), append(telling, c.told.Sub(at))
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	if len(sending) == 0 {
		return
	}
	slices.Sort(sending)
	slices.Sort(telling)
	q := func(ds []time.Duration, f float64) float64 {
		return float64(ds[int(f*float64(len(ds)-1))]) / float64(time.Millisecond)
	}
	b.Logf("funded→completion event p50 %.1f ms, p99 %.1f ms; completion event→webhook p50 %.1f ms, p99 %.1f ms",
		q(sending, 0.5), q(sending, 0.99), q(telling, 0.5), q(telling, 0.99))
}
