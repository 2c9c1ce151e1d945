package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
)

// Rafiki's performance workload (test/performance), one iteration: an
// incoming payment on a wallet address of this instance, a quote of a 500
// debit for it, and an outgoing payment of the quote; with -fund, the
// payment funded and waited for until it completed.
const (
	createIncomingPayment = `mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { id url } } }`
	createQuote           = `mutation($input: CreateQuoteInput!) { createQuote(input: $input) { quote { id receiveAmount { value } } } }`
	createOutgoingPayment = `mutation($input: CreateOutgoingPaymentInput!) { createOutgoingPayment(input: $input) { payment { id state } } }`
	depositOutgoing       = `mutation($input: DepositOutgoingPaymentLiquidityInput!) { depositOutgoingPaymentLiquidity(input: $input) { success } }`
	outgoingPaymentState  = `query($id: String!) { outgoingPayment(id: $id) { state error } }`
)

// completionWait bounds how long a funded payment is waited for, and
// completionPoll how often it is looked at meanwhile.
const (
	completionWait = 30 * time.Second
	completionPoll = 5 * time.Millisecond
)

// paymentSetup makes the two wallet addresses the workload pays between.
func paymentSetup(ctx context.Context, client *adminclient.Client, assetID, runID string) (sender, receiver string, err error) {
	var out struct {
		CreateWalletAddress struct{ WalletAddress struct{ ID string } } `json:"createWalletAddress"`
	}
	ids := make([]string, 2)
	for i, name := range []string{"sender", "receiver"} {
		if err := client.Do(ctx, createWalletAddress, map[string]any{"input": map[string]any{
			"assetId": assetID, "address": "load-" + runID + "-" + name}}, &out); err != nil {
			return "", "", fmt.Errorf("create the %s wallet address: %w", name, err)
		}
		ids[i] = out.CreateWalletAddress.WalletAddress.ID
	}
	return ids[0], ids[1], nil
}

// paymentOp runs one iteration of the workload; completed, when fund is
// set, receives how long each payment took from its funding to its
// completion.
func paymentOp(client *adminclient.Client, sender, receiver, assetCode string, fund bool, completed func(time.Duration)) func(ctx context.Context, worker, i int) error {
	return func(ctx context.Context, worker, i int) error {
		var ip struct {
			CreateIncomingPayment struct{ Payment struct{ ID, URL string } } `json:"createIncomingPayment"`
		}
		if err := client.Do(ctx, createIncomingPayment, map[string]any{"input": map[string]any{"walletAddressId": receiver,
			"incomingAmount": map[string]any{"value": "1002", "assetCode": assetCode, "assetScale": 2}}}, &ip); err != nil {
			return fmt.Errorf("createIncomingPayment: %w", err)
		}
		var q struct {
			CreateQuote struct{ Quote struct{ ID string } } `json:"createQuote"`
		}
		if err := client.Do(ctx, createQuote, map[string]any{"input": map[string]any{"walletAddressId": sender,
			"receiver":    ip.CreateIncomingPayment.Payment.URL,
			"debitAmount": map[string]any{"value": "500", "assetCode": assetCode, "assetScale": 2}}}, &q); err != nil {
			return fmt.Errorf("createQuote: %w", err)
		}
		var op struct {
			CreateOutgoingPayment struct{ Payment struct{ ID, State string } } `json:"createOutgoingPayment"`
		}
		if err := client.Do(ctx, createOutgoingPayment, map[string]any{"input": map[string]any{"walletAddressId": sender,
			"quoteId": q.CreateQuote.Quote.ID}}, &op); err != nil {
			return fmt.Errorf("createOutgoingPayment: %w", err)
		}
		p := op.CreateOutgoingPayment.Payment
		if p.ID != q.CreateQuote.Quote.ID || p.State != "FUNDING" {
			return fmt.Errorf("unexpected payment %+v of quote %s", p, q.CreateQuote.Quote.ID)
		}
		if !fund {
			return nil
		}
		funded := time.Now()
		if err := client.Do(ctx, depositOutgoing, map[string]any{"input": map[string]any{"outgoingPaymentId": p.ID,
			"idempotencyKey": uuid.NewString()}}, nil); err != nil {
			return fmt.Errorf("depositOutgoingPaymentLiquidity: %w", err)
		}
		for {
			var got struct {
				OutgoingPayment struct{ State, Error string } `json:"outgoingPayment"`
			}
			if err := client.Do(ctx, outgoingPaymentState, map[string]any{"id": p.ID}, &got); err != nil {
				return fmt.Errorf("outgoingPayment: %w", err)
			}
			switch got.OutgoingPayment.State {
			case "COMPLETED":
				completed(time.Since(funded))
				return nil
			case "FAILED", "CANCELLED":
				return fmt.Errorf("payment %s %s: %s", p.ID, got.OutgoingPayment.State, got.OutgoingPayment.Error)
			}
			if time.Since(funded) > completionWait {
				return fmt.Errorf("payment %s still %s %s after funding", p.ID, got.OutgoingPayment.State, completionWait)
			}
			time.Sleep(completionPoll)
		}
	}
}

// completionTimes are the times from funding to completion of the funded
// payments, all of them, warm-up included.
type completionTimes struct {
	mu    sync.Mutex
	times []time.Duration
}

func (c *completionTimes) add(d time.Duration) {
	c.mu.Lock()
	c.times = append(c.times, d)
	c.mu.Unlock()
}

func (c *completionTimes) print(w io.Writer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.times) == 0 {
		fmt.Fprintln(w, "completed      none")
		return
	}
	slices.Sort(c.times)
	at := func(q float64) float64 {
		return float64(c.times[int(q*float64(len(c.times)-1))].Microseconds()) / 1000
	}
	over := 0
	for _, d := range c.times {
		if d > time.Second {
			over++
		}
	}
	fmt.Fprintf(w, "funded→completed  %d payments: p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d over 1 s\n",
		len(c.times), at(0.5), at(0.99), at(1), over)
}
