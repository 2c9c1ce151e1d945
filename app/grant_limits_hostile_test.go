package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/testkit"
)

// limitsWorld is one system with a USD wallet address paying into an open
// incoming payment of another, for grant limit attacks.
type limitsWorld struct {
	s            *system
	o            outgoing
	alice, bob   walletAddressOut
	into, other  incomingPaymentOut
	aliceURL     string
	tenantID     string
	quoteOptions map[string]any
}

func newLimitsWorld(t *testing.T, s *system) limitsWorld {
	t.Helper()
	ctx := context.Background()
	usd, err := createAsset(ctx, s.operator, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := limitsWorld{s: s, o: newOutgoing(s), tenantID: s.operator.TenantID}
	for _, p := range []struct {
		name string
		into *walletAddressOut
	}{{"gl-alice", &w.alice}, {"gl-bob", &w.bob}} {
		wa, err := createWalletAddress(ctx, s.operator, map[string]any{"assetId": usd.ID, "address": p.name})
		if err != nil {
			t.Fatal(err)
		}
		*p.into = wa
	}
	w.aliceURL = "http://wallet.test/gl-alice"
	if w.into, err = createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": w.bob.ID}); err != nil {
		t.Fatal(err)
	}
	if w.other, err = createIncomingPayment(ctx, s.operator, map[string]any{"walletAddressId": w.bob.ID}); err != nil {
		t.Fatal(err)
	}
	return w
}

// quote is a quote from alice to receiver debiting debit cents.
func (w limitsWorld) quote(t *testing.T, receiver string, debit int) string {
	t.Helper()
	q, err := createQuote(context.Background(), w.s.operator, map[string]any{"walletAddressId": w.alice.ID, "receiver": receiver,
		"debitAmount": usdAmount(fmt.Sprint(debit))})
	if err != nil {
		t.Fatal(err)
	}
	return q.ID
}

// pay makes a payment of a quote under the grant's limits, as the resource
// server hands them to the backend.
func (w limitsWorld) pay(quoteID string, g *commands.OutgoingPaymentGrant) error {
	_, err := w.o.create(w.alice.ID, quoteID, g)
	return err
}

func debitLimit(interval string, value uint64) *commands.OutgoingPaymentGrant {
	return &commands.OutgoingPaymentGrant{ID: uuid.NewString(), Interval: interval,
		DebitAmount: &commands.Amount{Value: value, AssetCode: "USD", AssetScale: 2}}
}

// spendRow is one payment's spending of a grant as the read model holds it.
type spendRow struct {
	payment    string
	debit      uint64
	start, end *time.Time
	createdAt  time.Time
}

// spends reads the grant's spending from the read model once it holds n
// payments.
func (w limitsWorld) spends(t *testing.T, grantID string, n int) []spendRow {
	t.Helper()
	var rows []spendRow
	testkit.Eventually(t, 10*time.Second, func() bool {
		rows = nil
		r, err := w.s.running.Deps.Pool.Query(context.Background(), `SELECT outgoing_payment_id::text, debit_amount::bigint, interval_start,
			interval_end, created_at FROM rm_outgoing_payment_grants.grant_spends WHERE grant_id = $1`, grantID)
		if err != nil {
			return false
		}
		defer r.Close()
		for r.Next() {
			var row spendRow
			var debit int64
			if r.Scan(&row.payment, &debit, &row.start, &row.end, &row.createdAt) != nil {
				return false
			}
			row.debit = uint64(debit)
			rows = append(rows, row)
		}
		return r.Err() == nil && len(rows) == n
	}, "grant %s: read model does not hold %d spends", grantID, n)
	return rows
}

// addMonthsClamped is t plus months, on the month's last day when it is
// shorter, as Luxon's DateTime.plus counts calendar months.
func addMonthsClamped(t time.Time, months int) time.Time {
	first := time.Date(t.Year(), t.Month()+time.Month(months), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(t.Day(), last)-1)
}

// chainedPeriod is the period holding at of R/<start>/P<months>M as
// Rafiki's getInterval walks it: each period starts where the previous
// ended (Interval.after(interval.end, duration)), so a clamped day stays
// clamped.
func chainedPeriod(start time.Time, months int, at time.Time) (time.Time, time.Time) {
	s, e := start.UTC(), addMonthsClamped(start.UTC(), months)
	for !at.Before(e) {
		s, e = e, addMonthsClamped(e, months)
	}
	return s, e
}

// Grant limits' repeating intervals, as a hostile client words them: each
// payment is counted in the period Rafiki's getInterval finds for its
// creation, and refused when none holds it (a start in the future, R0/ or
// R1/ over, past the end of a backward interval).
func TestGrantLimitIntervalsAgainstAHostileClient(t *testing.T) {
	s := startSystem(t, false)
	w := newLimitsWorld(t, s)
	now := time.Now().UTC().Truncate(time.Second)
	iso := func(at time.Time) string { return at.Format(time.RFC3339) }

	type refusalCase struct {
		name, interval string
	}
	// No period holds now: Rafiki's validateAccessLimits finds no interval
	// and the payment is refused as an insufficient grant (403).
	for _, c := range []refusalCase{
		{"a start an hour ahead", "R/" + iso(now.Add(time.Hour)) + "/PT1H"},
		{"a start a second ahead, with an offset", "R/" + now.Add(90*time.Second).In(time.FixedZone("", 5*3600+1800)).Format(time.RFC3339) + "/P1D"},
		{"R0 whose one period is over", "R0/" + iso(now.Add(-2*time.Hour)) + "/PT1H"},
		{"R1 whose two periods are over", "R1/" + iso(now.Add(-150*time.Minute)) + "/PT1H"},
		{"an explicit start and end, both past, R0", "R0/" + iso(now.Add(-2*time.Hour)) + "/" + iso(now.Add(-time.Hour))},
		{"a backward interval ended a second ago", "R/PT1H/" + iso(now.Add(-time.Second))},
		{"a backward R1 whose periods are long before now", "R1/PT1H/" + iso(now.Add(-4*time.Hour))},
	} {
		t.Run("refused: "+c.name, func(t *testing.T) {
			err := w.pay(w.quote(t, w.into.URL, 10), debitLimit(c.interval, 1000))
			if apperr.KindOf(err) != apperr.Forbidden {
				t.Errorf("payment under %s: %v, want forbidden", c.interval, err)
			}
		})
	}

	type periodCase struct {
		name, interval string
		start, end     time.Time
	}
	jan31, _ := time.Parse(time.RFC3339, "2025-01-31T00:00:00Z")
	m1s, m1e := chainedPeriod(jan31, 1, now)
	// 2025-02-01T02:00+05:30 is 31 January 20:30 UTC: Rafiki's Luxon adds
	// months in UTC (Settings.defaultZone = 'utc'), not in the offset's.
	offStart, _ := time.Parse(time.RFC3339, "2025-02-01T02:00:00+05:30")
	o1s, o1e := chainedPeriod(offStart, 1, now)
	leap, _ := time.Parse(time.RFC3339, "2024-02-29T12:00:00Z")
	ls, le := chainedPeriod(leap, 12, now)
	for _, c := range []periodCase{
		{"R0 within its one period", "R0/" + iso(now.Add(-30*time.Minute)) + "/PT1H", now.Add(-30 * time.Minute), now.Add(30 * time.Minute)},
		{"R1 in its second period", "R1/" + iso(now.Add(-90*time.Minute)) + "/PT1H", now.Add(-30 * time.Minute), now.Add(30 * time.Minute)},
		{"unbounded, ten thousand hours on", "R/" + iso(now.Add(-10000*time.Hour-30*time.Minute)) + "/PT1H", now.Add(-30 * time.Minute), now.Add(30 * time.Minute)},
		{"explicit start and end repeating", "R5/" + iso(now.Add(-130*time.Minute)) + "/" + iso(now.Add(-90*time.Minute)), now.Add(-10 * time.Minute), now.Add(30 * time.Minute)},
		{"backward from an end ahead", "R/PT1H/" + iso(now.Add(30*time.Minute)), now.Add(-30 * time.Minute), now.Add(30 * time.Minute)},
		{"backward, a period before its end", "R2/PT1H/" + iso(now.Add(90*time.Minute)), now.Add(-30 * time.Minute), now.Add(30 * time.Minute)},
		{"P1M from 31 January", "R/2025-01-31T00:00:00Z/P1M", m1s, m1e},
		{"P1M from a +05:30 start on the 1st, 31 January in UTC", "R/2025-02-01T02:00:00+05:30/P1M", o1s, o1e},
		{"P1Y from a leap day", "R/2024-02-29T12:00:00Z/P1Y", ls, le},
	} {
		t.Run("period: "+c.name, func(t *testing.T) {
			g := debitLimit(c.interval, 100)
			first, second := w.quote(t, w.into.URL, 60), w.quote(t, w.into.URL, 60)
			if err := w.pay(first, g); err != nil {
				t.Fatalf("payment under %s: %v", c.interval, err)
			}
			// The period holds the limit: a second 60 passes it.
			if err := w.pay(second, g); apperr.KindOf(err) != apperr.Forbidden {
				t.Errorf("second payment of 60 under a limit of 100 per period: %v, want forbidden", err)
			}
			rows := w.spends(t, g.ID, 1)
			if r := rows[0]; r.start == nil || r.end == nil || !r.start.Equal(c.start) || !r.end.Equal(c.end) {
				t.Errorf("%s: counted in [%v, %v), want [%s, %s)", c.interval, r.start, r.end, c.start, c.end)
			}
		})
	}

	// One quote raced under two grants and twice under one: it is paid
	// once, and only the grant of that payment counts it.
	t.Run("one quote raced under two grants", func(t *testing.T) {
		a, b := debitLimit("", 100), debitLimit("", 100)
		q := w.quote(t, w.into.URL, 100)
		errs := concurrently(6, func(i int) error { return w.pay(q, []*commands.OutgoingPaymentGrant{a, b}[i%2]) })
		if n := successes(errs); n != 1 {
			t.Fatalf("one quote paid %d times: %v", n, errs)
		}
		freed := 0
		for _, g := range []*commands.OutgoingPaymentGrant{a, b} {
			if w.pay(w.quote(t, w.into.URL, 100), g) == nil {
				freed++
			}
		}
		if freed != 1 {
			t.Errorf("%d of the two grants could still pay their whole limit after one quote was paid once, want 1", freed)
		}
	})
	// A grant with both a debit and a receive limit is refused, never
	// paid under one of them only (Rafiki's OnlyOneGrantAmountAllowed).
	t.Run("both amounts limited", func(t *testing.T) {
		g := debitLimit("", 1000)
		g.ReceiveAmount = &commands.Amount{Value: 1, AssetCode: "USD", AssetScale: 2}
		if err := w.pay(w.quote(t, w.into.URL, 10), g); err == nil {
			t.Error("a payment under a grant limiting both amounts was made")
		}
	})
	// A limit in another asset, or another scale, than the payment's
	// debits allows nothing.
	t.Run("limit in another asset or scale", func(t *testing.T) {
		for _, a := range []commands.Amount{{Value: 1000, AssetCode: "EUR", AssetScale: 2}, {Value: 100000, AssetCode: "USD", AssetScale: 4}} {
			g := &commands.OutgoingPaymentGrant{ID: uuid.NewString(), DebitAmount: &a}
			if err := w.pay(w.quote(t, w.into.URL, 10), g); apperr.KindOf(err) != apperr.Forbidden {
				t.Errorf("payment under a limit of %+v: %v, want forbidden", a, err)
			}
		}
	})
	// The limit is reached exactly, not passed by one.
	t.Run("exactly the limit", func(t *testing.T) {
		g := debitLimit("R/"+iso(now.Add(-time.Minute))+"/P1D", 100)
		if err := w.pay(w.quote(t, w.into.URL, 101), g); apperr.KindOf(err) != apperr.Forbidden {
			t.Errorf("a payment of 101 under a limit of 100: %v", err)
		}
		if err := w.pay(w.quote(t, w.into.URL, 99), g); err != nil {
			t.Fatal(err)
		}
		if err := w.pay(w.quote(t, w.into.URL, 2), g); apperr.KindOf(err) != apperr.Forbidden {
			t.Errorf("101 in all under a limit of 100: %v", err)
		}
		if err := w.pay(w.quote(t, w.into.URL, 1), g); err != nil {
			t.Errorf("100 in all under a limit of 100: %v", err)
		}
	})
}

// A burst of payments racing under a PT1S interval, across several of its
// boundaries: each payment is counted in the period holding its creation,
// no period's payments debit more than the limit, and each new period
// gives the limit again.
func TestGrantLimitBurstAcrossIntervalBoundaries(t *testing.T) {
	s := startSystem(t, false)
	w := newLimitsWorld(t, s)
	// Batches of concurrent payments every 250 ms, the first of each
	// second 10 ms before its boundary, so that a batch straddles it.
	const each, perPeriod, batches, batch = 100, 2, 14, 4
	quotes := make([]string, batches*batch)
	for i := range quotes {
		quotes[i] = w.quote(t, w.into.URL, each)
	}
	start := time.Now().UTC().Truncate(time.Second)
	g := debitLimit("R/"+start.Format(time.RFC3339)+"/PT1S", each*perPeriod)
	first := start.Add(2*time.Second - 10*time.Millisecond)
	type made struct {
		id            string
		before, after time.Time
	}
	var mu sync.Mutex
	var paid []made
	var wg sync.WaitGroup
	errs := make(chan error, len(quotes))
	for b := range batches {
		time.Sleep(time.Until(first.Add(time.Duration(b) * 250 * time.Millisecond)))
		for _, id := range quotes[b*batch : (b+1)*batch] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				before := time.Now()
				err := w.pay(id, g)
				after := time.Now()
				switch {
				case err == nil:
					mu.Lock()
					paid = append(paid, made{id, before, after})
					mu.Unlock()
				case apperr.KindOf(err) != apperr.Forbidden:
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a payment neither made nor refused for its grant: %v", err)
	}
	rows := w.spends(t, g.ID, len(paid))
	byPeriod := map[time.Time]uint64{}
	when := map[string]made{}
	for _, p := range paid {
		when[p.id] = p
	}
	for _, r := range rows {
		if r.start == nil || r.end == nil || r.end.Sub(*r.start) != time.Second {
			t.Fatalf("payment %s counted in [%v, %v)", r.payment, r.start, r.end)
		}
		byPeriod[*r.start] += r.debit
		// The period is the one holding the creation: it cannot end before
		// the request was sent nor start after it was answered.
		if p := when[r.payment]; !r.end.After(p.before.Truncate(time.Second)) || r.start.After(p.after) {
			t.Errorf("payment %s made between %s and %s counted in [%s, %s)", r.payment, p.before, p.after, r.start, r.end)
		}
	}
	for period, sum := range byPeriod {
		if sum > each*perPeriod {
			t.Errorf("period %s: payments debit %d, limit %d", period, sum, each*perPeriod)
		}
	}
	t.Logf("%d payments made; debited per period: %v", len(paid), byPeriod)
	if len(byPeriod) < 3 {
		t.Errorf("payments in %d periods over 3.5 s of a PT1S interval: %v", len(byPeriod), byPeriod)
	}
}

// What a payment that ends without sending gives back to its grant's
// allowance: a failed payment keeps only what it sent (Rafiki counts only
// the sent amount of a failed payment), a cancelled one nothing; a
// completed one keeps all of it.
func TestGrantAllowanceOfPaymentsThatEnd(t *testing.T) {
	s := startSystem(t, false, func(c *config.Config) { c.QuoteLifespan = 2 * time.Second })
	w := newLimitsWorld(t, s)
	ctx := context.Background()
	backend := s.running.Backend.OutgoingPayments

	g := debitLimit("R/"+time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)+"/P1D", 100)
	q, err := createQuote(ctx, s.operator, map[string]any{"walletAddressId": w.alice.ID, "receiver": w.into.URL,
		"debitAmount": usdAmount("100")})
	if err != nil {
		t.Fatal(err)
	}
	expiring := q.ID
	if err := w.pay(expiring, g); err != nil {
		t.Fatal(err)
	}
	// Funded after its quote expired, it fails having sent nothing.
	time.Sleep(time.Until(mustTime(t, q.ExpiresAt)) + 200*time.Millisecond)
	if err := w.o.fund(expiring); err != nil {
		t.Fatal(err)
	}
	if p, st := w.o.finished(t, expiring, 10*time.Second); p.State != "FAILED" || st.Sent != 0 {
		t.Fatalf("payment funded after its quote expired: %+v", p)
	}
	rows := w.spends(t, g.ID, 1)
	testkit.Eventually(t, 5*time.Second, func() bool {
		rows = w.spends(t, g.ID, 1)
		return rows[0].debit == 0
	}, "read model: the failed payment still holds %d of its grant", stringer(func() string { return fmt.Sprint(rows[0].debit) }))

	// The whole limit is free again, and a completed payment keeps it.
	paid := w.quote(t, w.into.URL, 100)
	if err := w.pay(paid, g); err != nil {
		t.Fatalf("a payment of the whole limit after a failed one gave it back: %v", err)
	}
	if err := w.o.fund(paid); err != nil {
		t.Fatal(err)
	}
	if p, _ := w.o.finished(t, paid, 10*time.Second); p.State != "COMPLETED" {
		t.Fatalf("payment %+v", p)
	}
	if err := w.pay(w.quote(t, w.into.URL, 1), g); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("a payment past the limit after a completed one: %v, want forbidden", err)
	}
	// A cancelled payment in an unrepeated grant gives all back.
	g2 := debitLimit("", 50)
	c := w.quote(t, w.into.URL, 50)
	if err := w.pay(c, g2); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.Cancel(ctx, commands.CancelOutgoingPayment{Meta: w.o.meta(), OutgoingPaymentID: c}); err != nil {
		t.Fatal(err)
	}
	if err := w.pay(w.quote(t, w.into.URL, 50), g2); err != nil {
		t.Errorf("a payment of the whole limit after the only one was cancelled: %v", err)
	}
}

// Over Open Payments: what GET /outgoing-payment-grant answers after
// payments of a quote and of an incoming payment and a debit amount,
// right after each (the client asks as soon as it is answered 201), a
// cancellation, a receiver the limit does not name, a receive limit, an
// interval not begun and one whose period moved on; each answer valid
// per the spec.
func TestGrantSpentOverOpenPaymentsAgainstAHostileClient(t *testing.T) {
	s := startResourceServer(t)
	spec := openPaymentsSpec(t, "resource-server.yaml")
	w := newLimitsWorld(t, s)
	ctx := context.Background()
	tenant := w.tenantID
	base := "http://wallet.test/" + tenant
	client := newOPClient(t)
	now := time.Now().UTC().Truncate(time.Second)

	token := func(limits *events.GrantLimits) string {
		_, tok := interactiveGrant(t, s, client, tenant, events.GrantAccess{Type: grant.TypeOutgoingPayment,
			Actions: []string{grant.ActionCreate, grant.ActionRead}, Identifier: w.aliceURL, Limits: limits})
		return tok
	}
	type spentOut struct {
		SpentDebitAmount, SpentReceiveAmount *amountOut
	}
	spent := func(tok string) (spentOut, string) {
		t.Helper()
		status, header, body, _ := send(t, client, s.opURL, http.MethodGet, base+"/outgoing-payment-grant", tok, nil)
		if status != http.StatusOK {
			t.Fatalf("GET /outgoing-payment-grant: %d %s", status, body)
		}
		if err := checkAnswer(spec, specAnswer{Method: http.MethodGet, Path: "/outgoing-payment-grant", Status: status, Header: header, Body: body}); err != nil {
			t.Errorf("GET /outgoing-payment-grant answer does not match the spec: %v\n%s", err, body)
		}
		var out spentOut
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out, string(body)
	}
	create := func(tok, body string) (int, map[string]any) {
		t.Helper()
		status, _, answer, _ := send(t, client, s.opURL, http.MethodPost, base+"/outgoing-payments", tok, []byte(body))
		var out map[string]any
		_ = json.Unmarshal(answer, &out)
		return status, out
	}
	ofQuote := func(id string) string {
		return fmt.Sprintf(`{"walletAddress":%q,"quoteId":%q}`, w.aliceURL, base+"/quotes/"+id)
	}
	ofIncoming := func(receiver string, debit int) string {
		return fmt.Sprintf(`{"walletAddress":%q,"incomingPayment":%q,"debitAmount":{"value":"%d","assetCode":"USD","assetScale":2}}`,
			w.aliceURL, receiver, debit)
	}
	usd := func(v string) *events.GrantAmount {
		return &events.GrantAmount{Value: v, AssetCode: "USD", AssetScale: 2}
	}

	t.Run("debit limit per hour, read right after each payment", func(t *testing.T) {
		tok := token(&events.GrantLimits{Receiver: w.into.URL, DebitAmount: usd("500"),
			Interval: "R/" + now.Add(-30*time.Minute).Format(time.RFC3339) + "/PT1H"})
		if got, body := spent(tok); got.SpentDebitAmount != nil || got.SpentReceiveAmount != nil {
			t.Errorf("spent before any payment: %s, want nulls", body)
		}
		first := w.quote(t, w.into.URL, 200)
		if status, out := create(tok, ofQuote(first)); status != http.StatusCreated {
			t.Fatalf("payment of 200: %d %v", status, out)
		}
		var failures []string
		if got, body := spent(tok); got.SpentDebitAmount == nil || got.SpentDebitAmount.Value != "200" {
			failures = append(failures, "right after a payment of 200: "+body)
		}
		status, out := create(tok, ofIncoming(w.into.URL, 300))
		if status != http.StatusCreated {
			t.Fatalf("payment of an incoming payment, 300: %d %v", status, out)
		}
		second := out["id"].(string)
		second = second[strings.LastIndex(second, "/")+1:]
		if got, body := spent(tok); got.SpentDebitAmount == nil || got.SpentDebitAmount.Value != "500" ||
			got.SpentReceiveAmount == nil || got.SpentReceiveAmount.Value != "500" {
			failures = append(failures, "right after payments of 200 and 300: "+body)
		}
		if status, out := create(tok, ofIncoming(w.into.URL, 1)); status != http.StatusForbidden {
			t.Errorf("a payment of an incoming payment past the limit: %d %v, want 403", status, out)
		}
		if status, out := create(tok, ofQuote(w.quote(t, w.into.URL, 1))); status != http.StatusForbidden {
			t.Errorf("a payment of a quote past the limit: %d %v, want 403", status, out)
		}
		// Cancelled, the payment of 300 gives its amount back.
		if _, err := s.running.Backend.OutgoingPayments.Cancel(ctx, commands.CancelOutgoingPayment{Meta: w.o.meta(), OutgoingPaymentID: second}); err != nil {
			t.Fatal(err)
		}
		if got, body := spent(tok); got.SpentDebitAmount == nil || got.SpentDebitAmount.Value != "200" {
			failures = append(failures, "right after the payment of 300 was cancelled: "+body)
		}
		if len(failures) > 0 {
			t.Errorf("GET /outgoing-payment-grant does not answer what a payment just made or cancelled spent:\n%s",
				strings.Join(failures, "\n"))
		}
		// Eventually, at least, the answer is exact.
		testkit.Eventually(t, 5*time.Second, func() bool {
			got, _ := spent(tok)
			return got.SpentDebitAmount != nil && got.SpentDebitAmount.Value == "200" && got.SpentReceiveAmount.Value == "200"
		}, "spent never shows 200 after the cancellation")
		if status, out := create(tok, ofIncoming(w.other.URL, 10)); status != http.StatusForbidden {
			t.Errorf("a payment of an incoming payment the limit does not name: %d %v, want 403", status, out)
		}
		if status, out := create(tok, ofQuote(w.quote(t, w.other.URL, 10))); status != http.StatusForbidden {
			t.Errorf("a payment of a quote to a receiver the limit does not name: %d %v, want 403", status, out)
		}
		if status, out := create(tok, ofIncoming(w.into.URL, 300)); status != http.StatusCreated {
			t.Errorf("a payment of 300 after the cancellation: %d %v, want 201", status, out)
		}
	})

	t.Run("receive limit", func(t *testing.T) {
		tok := token(&events.GrantLimits{ReceiveAmount: usd("100")})
		quoteReceiving := func(v int) string {
			q, err := createQuote(ctx, s.operator, map[string]any{"walletAddressId": w.alice.ID, "receiver": w.into.URL,
				"receiveAmount": usdAmount(fmt.Sprint(v))})
			if err != nil {
				t.Fatal(err)
			}
			return q.ID
		}
		if status, out := create(tok, ofQuote(quoteReceiving(60))); status != http.StatusCreated {
			t.Fatalf("receiving 60: %d %v", status, out)
		}
		if status, out := create(tok, ofQuote(quoteReceiving(41))); status != http.StatusForbidden {
			t.Errorf("receiving 41 more under a receive limit of 100: %d %v, want 403", status, out)
		}
		if status, out := create(tok, ofQuote(quoteReceiving(40))); status != http.StatusCreated {
			t.Errorf("receiving 40 more under a receive limit of 100: %d %v, want 201", status, out)
		}
		testkit.Eventually(t, 5*time.Second, func() bool {
			got, _ := spent(tok)
			return got.SpentReceiveAmount != nil && got.SpentReceiveAmount.Value == "100"
		}, "spent receive amount never 100")
	})

	t.Run("interval not begun", func(t *testing.T) {
		tok := token(&events.GrantLimits{DebitAmount: usd("1000"), Interval: "R/" + now.Add(time.Hour).Format(time.RFC3339) + "/PT1H"})
		if status, out := create(tok, ofIncoming(w.into.URL, 10)); status != http.StatusForbidden {
			t.Errorf("a payment before its grant's interval begins: %d %v, want 403", status, out)
		}
		if got, body := spent(tok); got.SpentDebitAmount != nil || got.SpentReceiveAmount != nil {
			t.Errorf("spent of a grant whose interval has not begun: %s, want nulls", body)
		}
	})

	t.Run("period moved on", func(t *testing.T) {
		// A PT2S interval begun on an even second: pay early in a period,
		// then read in the next one, which nothing spent.
		start := time.Now().UTC().Truncate(2 * time.Second)
		tok := token(&events.GrantLimits{DebitAmount: usd("100"), Interval: "R/" + start.Format(time.RFC3339) + "/PT2S"})
		time.Sleep(time.Until(time.Now().Truncate(2 * time.Second).Add(2*time.Second + 50*time.Millisecond)))
		if status, out := create(tok, ofIncoming(w.into.URL, 100)); status != http.StatusCreated {
			t.Fatalf("payment of the limit: %d %v", status, out)
		}
		if status, out := create(tok, ofIncoming(w.into.URL, 1)); status != http.StatusForbidden {
			t.Errorf("a payment past the limit in the same period: %d %v, want 403", status, out)
		}
		time.Sleep(time.Until(time.Now().Truncate(2 * time.Second).Add(2*time.Second + 50*time.Millisecond)))
		// Rafiki answers zeros in the assets of the latest payment.
		if got, body := spent(tok); got.SpentDebitAmount == nil || got.SpentDebitAmount.Value != "0" || got.SpentDebitAmount.AssetCode != "USD" {
			t.Errorf("spent in a period after the one paid in: %s, want 0 USD", body)
		}
		if status, out := create(tok, ofIncoming(w.into.URL, 100)); status != http.StatusCreated {
			t.Errorf("payment of the limit in the next period: %d %v, want 201", status, out)
		}
	})
}
