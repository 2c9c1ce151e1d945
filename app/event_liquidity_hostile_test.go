package app_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/testkit"
)

const (
	withdrawEventQ  = `mutation($input: WithdrawEventLiquidityInput!) { withdrawEventLiquidity(input: $input) { success } }`
	depositEventQ   = `mutation($input: DepositEventLiquidityInput!) { depositEventLiquidity(input: $input) { success } }`
	triggerWMQ      = `mutation($limit: Int!) { triggerWalletAddressEvents(input: {limit: $limit}) { count } }`
	withdrawWalletQ = `mutation($input: CreateWalletAddressWithdrawalInput!) { createWalletAddressWithdrawal(input: $input) { withdrawal { id amount } } }`
	withdrawIPQ     = `mutation($input: CreateIncomingPaymentWithdrawalInput!) { createIncomingPaymentWithdrawal(input: $input) { success } }`
	webhookEventsQ  = `query($types: [String!], $tenantId: String) { webhookEvents(first: 100, tenantId: $tenantId, filter: {type: {in: $types}}) { edges { node { id type data } } } }`
)

type webhookEventOut struct {
	ID, Type string
	Data     map[string]any
}

// webhookEventsOf lists the caller's webhook events of one type.
func webhookEventsOf(t *testing.T, c *adminclient.Client, typ string) []webhookEventOut {
	t.Helper()
	var out struct {
		WebhookEvents struct {
			Edges []struct{ Node webhookEventOut }
		} `json:"webhookEvents"`
	}
	if err := c.Do(context.Background(), webhookEventsQ, map[string]any{"types": []string{typ}}, &out); err != nil {
		t.Fatal(err)
	}
	var evs []webhookEventOut
	for _, e := range out.WebhookEvents.Edges {
		evs = append(evs, e.Node)
	}
	return evs
}

// eventAbout waits for the caller's event of typ whose data's id is id.
func eventAbout(t *testing.T, c *adminclient.Client, typ, id string) string {
	t.Helper()
	var found string
	testkit.Eventually(t, 10*time.Second, func() bool {
		for _, e := range webhookEventsOf(t, c, typ) {
			if e.Data["id"] == id {
				found = e.ID
				return true
			}
		}
		return false
	}, "no %s event of %s", typ, id)
	return found
}

// webMonetizationTold sums the amounts the wallet address's
// wallet_address.web_monetization events told, and lists them.
func webMonetizationTold(t *testing.T, c *adminclient.Client, walletAddressID string) (uint64, []string) {
	t.Helper()
	var sum uint64
	var ids []string
	for _, e := range webhookEventsOf(t, c, "wallet_address.web_monetization") {
		wa, _ := e.Data["walletAddress"].(map[string]any)
		if wa == nil || wa["id"] != walletAddressID {
			continue
		}
		amount, _ := wa["receivedAmount"].(map[string]any)
		n, err := strconv.ParseUint(fmt.Sprint(amount["value"]), 10, 64)
		if err != nil {
			t.Fatalf("web monetization event %s: amount %v", e.ID, amount)
		}
		sum += n
		ids = append(ids, e.ID)
	}
	return sum, ids
}

func withdrawEvent(c *adminclient.Client, eventID string) error {
	return c.Do(context.Background(), withdrawEventQ, map[string]any{"input": map[string]any{"eventId": eventID, "idempotencyKey": uuid.NewString()}}, nil)
}

// webMonetizedWallet is an operator's wallet address paid over STREAM from
// a peer, as Web Monetization pays it.
type webMonetizedWallet struct {
	id  string
	pay func(amount uint64) uint64
}

func newWebMonetizedWallet(t *testing.T, s *system, address string) webMonetizedWallet {
	t.Helper()
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "staticIlpAddress": "test.wmsender", "initialLiquidity": "1000000",
		"http": map[string]any{"incoming": map[string]any{"authTokens": []string{"from-wm-sender"}},
			"outgoing": map[string]any{"authToken": "to-wm-sender", "endpoint": "http://127.0.0.1:9/unused"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	wa, err := createWalletAddress(ctx, op, map[string]any{"assetId": usd.ID, "address": address})
	if err != nil {
		t.Fatal(err)
	}
	connectorURL, err := s.running.URL(app.ConnectorListener)
	if err != nil {
		t.Fatal(err)
	}
	destination, secret := spspCredentials(t, s, "/"+address)
	return webMonetizedWallet{id: wa.ID, pay: func(amount uint64) uint64 {
		got, _ := payOverSTREAM(t, connectorURL, "from-wm-sender", destination, secret, amount)
		return got
	}}
}

func walletLiquidity(t *testing.T, s *system, id string) string {
	t.Helper()
	return deref(liquidityOf(t, s, `query($id: String!) { walletAddress(id: $id) { liquidity } }`, id))
}

// Many triggers at once while STREAM money keeps arriving: every unit the
// wallet address received is told by exactly one web monetization event
// (none twice, none never), and each event's money leaves once, however
// many withdrawals of it race; another tenant withdraws none of it.
func TestWebMonetizationToldOnceUnderRacingTriggers(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	op := s.operator
	w := newWebMonetizedWallet(t, s, "racing-wm")
	stranger := newPayingTenant(t, s, "wm-stranger")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var triggerErrs sync.Map
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := op.Do(ctx, triggerWMQ, map[string]any{"limit": 1 + i%2}, nil); err != nil {
					triggerErrs.Store(err.Error(), true)
				}
			}
		}()
	}
	var received uint64
	for i := range 25 {
		received += w.pay(uint64(3 + i%4))
	}
	close(stop)
	wg.Wait()
	triggerErrs.Range(func(k, _ any) bool { t.Errorf("a racing trigger failed: %v", k); return true })
	if received == 0 {
		t.Fatal("no STREAM money reached the wallet address")
	}
	if err := op.Do(ctx, triggerWMQ, map[string]any{"limit": 10}, nil); err != nil {
		t.Fatal(err)
	}
	var told uint64
	var ids []string
	testkit.Eventually(t, 10*time.Second, func() bool {
		told, ids = webMonetizationTold(t, op, w.id)
		return told >= received
	}, "web monetization events told %d of %d received", told, received)
	time.Sleep(300 * time.Millisecond) // a late, surplus event would show now
	if told, ids = webMonetizationTold(t, op, w.id); told != received {
		t.Fatalf("web monetization events told %d in %d events; the wallet address received %d", told, len(ids), received)
	}

	// Each event withdrawn by three of its tenant's requests at once and one
	// of another tenant's: one success per event.
	for _, id := range ids {
		errs := concurrently(4, func(i int) error {
			if i == 3 {
				if err := withdrawEvent(stranger.c, id); errorCode(err) != "BAD_USER_INPUT" {
					return fmt.Errorf("another tenant's withdrawal answered %v", err)
				}
				return errAnswered
			}
			return withdrawEvent(op, id)
		})
		if successes(errs) != 1 {
			t.Errorf("event %s withdrawn by racing requests: %d told success; errors %v", id, successes(errs), errs)
		}
		for i, err := range errs[:3] {
			if err != nil && !lostTheRace(err) {
				t.Errorf("event %s, request %d: %v, want DUPLICATE", id, i, err)
			}
		}
		// Asked again once the winner finished: the transfer exists.
		if err := withdrawEvent(op, id); errorCode(err) != "DUPLICATE" {
			t.Errorf("event %s withdrawn again: %v, want DUPLICATE", id, err)
		}
	}
	if got := walletLiquidity(t, s, w.id); got != "0" {
		t.Errorf("the wallet address holds %s after every event's withdrawal", got)
	}
	// Nothing is left to withdraw or to tell.
	err := op.Do(ctx, withdrawWalletQ, map[string]any{"input": map[string]any{"walletAddressId": w.id, "id": uuid.NewString(),
		"idempotencyKey": uuid.NewString(), "timeoutSeconds": "0"}}, nil)
	if errorCode(err) != "BAD_USER_INPUT" {
		t.Errorf("withdrawing the emptied wallet address: %v", err)
	}
	var out struct {
		TriggerWalletAddressEvents struct{ Count int } `json:"triggerWalletAddressEvents"`
	}
	if err := op.Do(ctx, triggerWMQ, map[string]any{"limit": 10}, &out); err != nil || out.TriggerWalletAddressEvents.Count != 0 {
		t.Errorf("a trigger after all was told: %d events, %v", out.TriggerWalletAddressEvents.Count, err)
	}
	checkLedger(t, s)
}

// lostTheRace is the answer of a withdrawal that lost to another on the
// same transfer: the transfer exists, or (while the winner's outcome is
// not recorded) try again, which the architecture documents.
func lostTheRace(err error) bool {
	c := errorCode(err)
	return c == "DUPLICATE" || c == "SERVICE_UNAVAILABLE"
}

// errAnswered marks a racing request whose answer was checked already and
// is no success.
var errAnswered = fmt.Errorf("answered as expected")

// createWalletAddressWithdrawal (the whole balance) racing the withdrawal
// of the web monetization event that told of that same money: the money
// leaves once, whichever wins; the ledger stays balanced.
func TestWalletAddressWithdrawalRacingEventWithdrawal(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	op := s.operator
	w := newWebMonetizedWallet(t, s, "raced-wm")
	var in, out uint64
	for round := range 5 {
		in += w.pay(50)
		var trig struct {
			TriggerWalletAddressEvents struct{ Count int } `json:"triggerWalletAddressEvents"`
		}
		if err := op.Do(ctx, triggerWMQ, map[string]any{"limit": 10}, &trig); err != nil || trig.TriggerWalletAddressEvents.Count != 1 {
			t.Fatalf("round %d: trigger made %d events, %v", round, trig.TriggerWalletAddressEvents.Count, err)
		}
		var events []string
		testkit.Eventually(t, 10*time.Second, func() bool {
			_, events = webMonetizationTold(t, op, w.id)
			return len(events) == round+1
		}, "round %d: the event is not listed", round)
		newest := events[0] // newest first
		var amounts [2]uint64
		errs := concurrently(2, func(i int) error {
			if i == 0 {
				var res struct {
					CreateWalletAddressWithdrawal struct{ Withdrawal struct{ Amount string } } `json:"createWalletAddressWithdrawal"`
				}
				err := op.Do(ctx, withdrawWalletQ, map[string]any{"input": map[string]any{"walletAddressId": w.id, "id": uuid.NewString(),
					"idempotencyKey": uuid.NewString(), "timeoutSeconds": "0"}}, &res)
				if err == nil {
					amounts[0], _ = strconv.ParseUint(res.CreateWalletAddressWithdrawal.Withdrawal.Amount, 10, 64)
				}
				return err
			}
			err := withdrawEvent(op, newest)
			if err == nil {
				amounts[1] = 50
			}
			return err
		})
		if successes(errs) != 1 {
			t.Errorf("round %d: wallet withdrawal and event withdrawal of the same 50: %d succeeded; errors %v", round, successes(errs), errs)
		}
		out += amounts[0] + amounts[1]
		bal, _ := strconv.ParseUint(walletLiquidity(t, s, w.id), 10, 64)
		if out+bal != in {
			t.Errorf("round %d: received %d, withdrawn %d, left %d", round, in, out, bal)
		}
	}
	checkLedger(t, s)
}

// The money of an incoming payment's completion leaves once, through
// withdrawEventLiquidity or createIncomingPaymentWithdrawal (one transfer,
// the completion event's id), whoever races: not for another tenant, not
// for an event without money, not again after its pending withdrawal was
// voided. Money credited after the withdrawal (a packet in flight) stays in
// the ledger, the ledger balanced.
func TestIncomingPaymentEventWithdrawalAgainstARacingClient(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	a := newPayingTenant(t, s, "ev-bank-a")
	b := newPayingTenant(t, s, "ev-bank-b")
	bob := a.wallet(t, "bob")
	completed := func() (string, string, string) {
		t.Helper()
		p := a.incoming(t, bob.ID, "100")
		credit(t, s, p.ID, 100)
		if _, err := s.running.Backend.IncomingPayments.RecordReceived(ctx, a.id, p.ID); err != nil {
			t.Fatal(err)
		}
		return p.ID, eventAbout(t, a.c, "incoming_payment.created", p.ID), eventAbout(t, a.c, "incoming_payment.completed", p.ID)
	}
	ipLiquidity := func(id string) string {
		return deref(liquidityOf(t, s, `query($id: String!) { incomingPayment(id: $id) { liquidity } }`, id))
	}
	withdrawIP := func(id, timeout string) error {
		return a.c.Do(ctx, withdrawIPQ, map[string]any{"input": map[string]any{"incomingPaymentId": id, "idempotencyKey": uuid.NewString(),
			"timeoutSeconds": timeout}}, nil)
	}

	// Eight event withdrawals and two payment withdrawals at once: one wins.
	for round := range 3 {
		id, createdEv, completedEv := completed()
		if err := withdrawEvent(b.c, completedEv); errorCode(err) != "BAD_USER_INPUT" {
			t.Errorf("another tenant withdrawing the completion's money: %v", err)
		}
		if err := withdrawEvent(a.c, createdEv); errorCode(err) != "BAD_USER_INPUT" {
			t.Errorf("withdrawing an event without money: %v", err)
		}
		errs := concurrently(10, func(i int) error {
			if i < 2 {
				return withdrawIP(id, "0")
			}
			return withdrawEvent(a.c, completedEv)
		})
		if successes(errs) != 1 {
			t.Errorf("round %d: 10 racing withdrawals of one completion: %d succeeded; errors %v", round, successes(errs), errs)
		}
		for i, err := range errs {
			// A payment withdrawal that reads the payment after the winner
			// emptied it has nothing to withdraw, as Rafiki answers it.
			emptied := i < 2 && errorCode(err) == "BAD_USER_INPUT" && strings.Contains(err.Error(), "Amount is zero")
			if err != nil && !lostTheRace(err) && !emptied {
				t.Errorf("round %d: a losing withdrawal answered %v, want DUPLICATE", round, err)
			}
		}
		if err := withdrawEvent(a.c, completedEv); errorCode(err) != "DUPLICATE" {
			t.Errorf("round %d: the completion withdrawn again: %v, want DUPLICATE", round, err)
		}
		if got := ipLiquidity(id); got != "0" {
			t.Errorf("round %d: the payment holds %s after its withdrawal", round, got)
		}
	}

	// A pending withdrawal voided: the event's money cannot be withdrawn
	// again under the same transfer, and stays in the account.
	id, _, completedEv := completed()
	if err := withdrawIP(id, "60"); err != nil {
		t.Fatal(err)
	}
	errs := concurrently(4, func(int) error { return withdrawEvent(a.c, completedEv) })
	for _, err := range errs {
		if !lostTheRace(err) {
			t.Errorf("withdrawing the event while its withdrawal is pending: %v, want DUPLICATE", err)
		}
	}
	settle := func(mutation string) error {
		return a.c.Do(ctx, `mutation($input: `+upperFirst(mutation)+`Input!) { `+mutation+`(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"withdrawalId": completedEv, "idempotencyKey": uuid.NewString()}}, nil)
	}
	// Another tenant cannot void or post it.
	if err := b.c.Do(ctx, `mutation($input: VoidLiquidityWithdrawalInput!) { voidLiquidityWithdrawal(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"withdrawalId": completedEv, "idempotencyKey": uuid.NewString()}}, nil); errorCode(err) != "NOT_FOUND" {
		t.Errorf("another tenant voiding the withdrawal: %v", err)
	}
	voids := concurrently(3, func(int) error { return settle("voidLiquidityWithdrawal") })
	if successes(voids) != 1 {
		t.Errorf("three voids at once: %d succeeded; %v", successes(voids), voids)
	}
	if err := settle("postLiquidityWithdrawal"); errorCode(err) != "CONFLICT" {
		t.Errorf("posting a voided withdrawal: %v, want CONFLICT", err)
	}
	if err := withdrawEvent(a.c, completedEv); errorCode(err) != "DUPLICATE" {
		t.Errorf("withdrawing the event after its withdrawal was voided: %v", err)
	}
	if got := ipLiquidity(id); got != "100" {
		t.Errorf("the payment holds %s after the void, want 100", got)
	}

	// Money arriving after the completion's withdrawal stays in the
	// payment's account: not paid out again, not vanished.
	id2, _, completedEv2 := completed()
	if err := withdrawEvent(a.c, completedEv2); err != nil {
		t.Fatal(err)
	}
	credit(t, s, id2, 30)
	if _, err := s.running.Backend.IncomingPayments.RecordReceived(ctx, a.id, id2); err != nil {
		t.Errorf("recording late money: %v", err)
	}
	if err := withdrawIP(id2, "0"); errorCode(err) != "DUPLICATE" {
		t.Errorf("withdrawing the payment again after late money: %v", err)
	}
	if got := ipLiquidity(id2); got != "30" {
		t.Errorf("the payment holds %s after late money, want 30", got)
	}
	// credit deposits without liquidity events, so only the ledger's own
	// conservation check applies here.
	if imbalances, err := s.running.Deps.Ledger.Check(ctx); err != nil || len(imbalances) != 0 {
		t.Errorf("ledger check: %v %v", imbalances, err)
	}
}

// depositEventLiquidity funds only the payment an outgoing_payment.created
// event of the caller's tells of, and once, even racing
// depositOutgoingPaymentLiquidity; the finished payment's leftover leaves
// once, through its event or createOutgoingPaymentWithdrawal.
func TestOutgoingPaymentEventLiquidityAgainstARacingClient(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	a := newPayingTenant(t, s, "out-bank-a")
	b := newPayingTenant(t, s, "out-bank-b")
	alice, bob := a.wallet(t, "alice"), a.wallet(t, "bob")
	open := a.incoming(t, bob.ID, "")
	depositEvent := func(c *adminclient.Client, eventID string) error {
		return c.Do(ctx, depositEventQ, map[string]any{"input": map[string]any{"eventId": eventID, "idempotencyKey": uuid.NewString()}}, nil)
	}
	for round := range 3 {
		id := a.pay(t, alice.ID, a.quote(t, alice.ID, open.URL, "100").ID)
		created := eventAbout(t, a.c, "outgoing_payment.created", id)
		if err := depositEvent(b.c, created); errorCode(err) != "BAD_USER_INPUT" {
			t.Errorf("another tenant funding through the event: %v", err)
		}
		incoming := webhookEventsOf(t, a.c, "incoming_payment.created")
		if len(incoming) == 0 {
			t.Fatal("no incoming_payment.created event")
		}
		if err := depositEvent(a.c, incoming[0].ID); errorCode(err) != "BAD_USER_INPUT" {
			t.Errorf("depositEventLiquidity of an incoming_payment.created event: %v", err)
		}
		errs := concurrently(6, func(i int) error {
			if i%2 == 0 {
				return a.fund(id)
			}
			return depositEvent(a.c, created)
		})
		if successes(errs) == 0 {
			t.Fatalf("round %d: no funding succeeded: %v", round, errs)
		}
		p := a.finished(t, id)
		// Debit 100 with a fee of 10: 90 sent, 10 left. Funded twice, 110.
		if p.State != "COMPLETED" || deref(p.Liquidity) != "10" {
			t.Errorf("round %d: payment funded by racing requests: %+v liquidity %s; errors %v", round, p, deref(p.Liquidity), errs)
		}
		if err := depositEvent(a.c, created); err == nil {
			if p := a.payment(t, id); deref(p.Liquidity) != "10" {
				t.Errorf("round %d: depositEventLiquidity after completion funded again: %s", round, deref(p.Liquidity))
			}
		}
		completedEv := eventAbout(t, a.c, "outgoing_payment.completed", id)
		errs = concurrently(6, func(i int) error {
			if i == 0 {
				return a.withdraw(id)
			}
			return withdrawEvent(a.c, completedEv)
		})
		if successes(errs) != 1 {
			t.Errorf("round %d: racing withdrawals of the leftover: %d succeeded; errors %v", round, successes(errs), errs)
		}
		if p := a.payment(t, id); deref(p.Liquidity) != "0" {
			t.Errorf("round %d: the payment holds %s after its withdrawal", round, deref(p.Liquidity))
		}
	}
	checkLedger(t, s)
}
