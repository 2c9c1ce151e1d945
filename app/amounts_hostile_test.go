package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/testkit"
)

// Money arithmetic at its extremes, driven through the admin API and Open
// Payments as an attacker would: amounts at and past 2^64 - 1, as strings
// and as JSON numbers; fees and scales whose arithmetic overflows; rounding
// across scales; liquidity movements at the balance and at the ledger's
// limits; a grant's totals. A refusal must be a GraphQL error with Rafiki's
// code that moves nothing; an acceptance must state exactly the amount
// asked, and the ledger must balance afterwards.

const (
	amountsU64Max = "18446744073709551615" // 2^64 - 1, the largest Rafiki amount
	amountsI64Max = "9223372036854775807"  // 2^63 - 1, the Postgres ledger's largest transfer
)

// amountsMutate runs a mutation answering { success } with a fresh
// idempotency key.
func amountsMutate(c *adminclient.Client, mutation string, input map[string]any) error {
	input["idempotencyKey"] = uuid.NewString()
	return c.Do(context.Background(), `mutation($input: `+upperFirst(mutation)+`Input!) { `+mutation+`(input: $input) { success } }`,
		map[string]any{"input": input}, nil)
}

// amountsAssetLiquidity is an asset's liquidity as the admin API states it,
// checked against the ledger's balance of the asset's account.
func amountsAssetLiquidity(t *testing.T, s *system, assetID string) string {
	t.Helper()
	got := liquidityOf(t, s, `query($id: String!) { asset(id: $id) { liquidity } }`, assetID)
	if got == nil {
		t.Fatalf("asset %s has no liquidity", assetID)
	}
	balance, err := s.running.Deps.Ledger.Balance(context.Background(), uuid.MustParse(assetID))
	if err != nil {
		t.Fatal(err)
	}
	if *got != strconv.FormatUint(balance, 10) {
		t.Errorf("asset %s: the admin API states liquidity %s, the ledger holds %d", assetID, *got, balance)
	}
	return *got
}

// amountsSend signs and sends a GraphQL request as c's tenant, and answers
// its data, or its refusal as adminclient.Errors (a GraphQL error) or
// *adminclient.StatusError (any other status). A body holding an integer
// the signature's canonical form cannot carry exactly cannot be signed by
// the client library; it goes with the signature of another body, which
// the server must refuse as it reads the body, before the signature.
func amountsSend(t *testing.T, s *system, c *adminclient.Client, query string, vars map[string]any) (json.RawMessage, error) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars, "extensions": map[string]any{"nonce": uuid.NewString()}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	sig, err := adminauth.Sign(c.Secret, 1, body, at)
	if errors.Is(err, adminauth.ErrInexactInteger) {
		sig, err = adminauth.Sign(c.Secret, 1, []byte(`{}`), at)
	}
	if err != nil {
		t.Fatal(err)
	}
	a := gqhSend(t, s, http.MethodPost, "", body, map[string][]string{"tenant-id": {c.TenantID}, "signature": {sig}})
	if a.status != http.StatusOK {
		return nil, &adminclient.StatusError{Status: a.status, Body: string(a.body)}
	}
	var env struct {
		Data   json.RawMessage
		Errors adminclient.Errors
	}
	if err := json.Unmarshal(a.body, &env); err != nil {
		t.Fatalf("answer %s: %v", a.body, err)
	}
	if len(env.Errors) > 0 {
		return nil, env.Errors
	}
	return env.Data, nil
}

// BigInt inputs as an attacker sends them, as strings and as JSON numbers,
// in every kind of amount: each is refused as BAD_USER_INPUT and changes
// nothing, or is taken as exactly the integer it names, never another.
func TestAmountsHostileBigIntInputs(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	fee, err := createAsset(ctx, op, "FEE", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice, bob, open := amountsPayerAndPayee(t, op, usd.ID, usd.ID, "amounts")

	type value struct {
		name string
		in   any
		// exact is the integer an acceptance must take; "" when the value
		// names no unsigned integer and must be refused.
		exact string
		// accept: the value must be taken (Rafiki takes it).
		accept bool
		// inexact: a JSON integer a double does not hold, which the
		// canonical form the signature covers would change; refused as
		// the body is read (UNAUTHENTICATED, saying to send a string).
		inexact bool
	}
	values := []value{
		{name: "2^64 as a string", in: "18446744073709551616"},
		{name: "10^30 as a string", in: "1000000000000000000000000000000"},
		{name: "-1 as a string", in: "-1"},
		{name: "-1 as a number", in: -1},
		{name: "-0 as a string", in: "-0"},
		{name: "1e3 as a string", in: "1e3"},
		{name: "+5", in: "+5"},
		{name: "a blank before 5", in: " 5"},
		{name: "a blank after 5", in: "5 "},
		{name: "hexadecimal 0x10", in: "0x10"},
		{name: "1_000", in: "1_000"},
		{name: "the empty string", in: ""},
		{name: "1.0 as a string", in: "1.0"},
		{name: "1.5 as a number", in: 1.5},
		{name: "10^30 as a number", in: 1e30},
		{name: "Arabic-Indic five", in: "٥"},
		{name: "full-width five", in: "５"},
		{name: "true", in: true},
		{name: "a list", in: []any{5}},
		{name: "an object", in: map[string]any{"value": 5}},
		{name: "007", in: "007", exact: "7"},
		{name: "5 as a number", in: 5, exact: "5", accept: true},
		{name: "1e2 as a JSON number", in: json.Number("1e2"), exact: "100"},
		{name: "2^53 as a JSON number", in: json.Number("9007199254740992"), exact: "9007199254740992"},
		{name: "2^53 + 1 as a JSON number", in: json.Number("9007199254740993"), exact: "9007199254740993", inexact: true},
		{name: "2^63 + 1 as a JSON number", in: json.Number("9223372036854775809"), exact: "9223372036854775809", inexact: true},
		{name: "2^64 - 1 as a JSON number", in: json.Number(amountsU64Max), exact: amountsU64Max, inexact: true},
		{name: "2^64 - 1 as a string", in: amountsU64Max, exact: amountsU64Max, accept: true},
	}
	usdAmount := func(v any) map[string]any { return map[string]any{"value": v, "assetCode": "USD", "assetScale": 2} }
	send := func(query string, input map[string]any, out any) error {
		data, err := amountsSend(t, s, op, query, map[string]any{"input": input})
		if err != nil || out == nil {
			return err
		}
		return json.Unmarshal(data, out)
	}

	type target struct {
		name string
		// do sends v and answers what the system then states: what moved
		// or what was stored.
		do func(v any) (stated string, err error)
		// ledgerMax: the target is a ledger movement, or a quote of one,
		// whose largest amount is 2^63 - 1 (Rafiki's bigint columns); past
		// it, a refusal is right.
		ledgerMax bool
	}
	targets := []target{
		{name: "depositAssetLiquidity amount", ledgerMax: true,
			do: func(v any) (string, error) {
				before, _ := new(big.Int).SetString(amountsAssetLiquidity(t, s, usd.ID), 10)
				err := send(`mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
					map[string]any{"assetId": usd.ID, "amount": v, "id": uuid.NewString(), "idempotencyKey": uuid.NewString()}, nil)
				after, _ := new(big.Int).SetString(amountsAssetLiquidity(t, s, usd.ID), 10)
				return new(big.Int).Sub(after, before).String(), err
			}},
		{name: "createIncomingPayment incomingAmount",
			do: func(v any) (string, error) {
				var out struct {
					CreateIncomingPayment struct{ Payment incomingPaymentOut } `json:"createIncomingPayment"`
				}
				err := send(`mutation($input: CreateIncomingPaymentInput!) { createIncomingPayment(input: $input) { payment { `+incomingPaymentFields+` } } }`,
					map[string]any{"walletAddressId": bob.ID, "incomingAmount": usdAmount(v)}, &out)
				p := out.CreateIncomingPayment.Payment
				if err != nil || p.IncomingAmount == nil {
					return "", err
				}
				got, gerr := getIncomingPayment(ctx, op, p.ID)
				if gerr != nil || got.IncomingAmount == nil || got.IncomingAmount.Value != p.IncomingAmount.Value {
					return "", fmt.Errorf("incoming payment %s created with %s reads back %+v (%v)", p.ID, p.IncomingAmount.Value, got.IncomingAmount, gerr)
				}
				return p.IncomingAmount.Value, nil
			}},
		{name: "createQuote debitAmount", ledgerMax: true,
			do: func(v any) (string, error) {
				var out struct {
					CreateQuote struct{ Quote quoteOut } `json:"createQuote"`
				}
				err := send(`mutation($input: CreateQuoteInput!) { createQuote(input: $input) { quote { `+quoteFields+` } } }`,
					map[string]any{"walletAddressId": alice.ID, "receiver": open.URL, "debitAmount": usdAmount(v)}, &out)
				q := out.CreateQuote.Quote
				if err != nil {
					return "", err
				}
				if q.ReceiveAmount.Value != q.DebitAmount.Value {
					return "", fmt.Errorf("a quote without fees debits %s, delivers %s", q.DebitAmount.Value, q.ReceiveAmount.Value)
				}
				return q.DebitAmount.Value, nil
			}},
		{name: "updateAsset withdrawalThreshold",
			do: func(v any) (string, error) {
				before, berr := getAsset(ctx, op, usd.ID)
				if berr != nil {
					t.Fatal(berr)
				}
				var out struct {
					UpdateAsset struct{ Asset assetOut } `json:"updateAsset"`
				}
				err := send(`mutation($input: UpdateAssetInput!) { updateAsset(input: $input) { asset { `+assetFields+` } } }`,
					map[string]any{"id": usd.ID, "withdrawalThreshold": v}, &out)
				a, gerr := getAsset(ctx, op, usd.ID)
				if gerr != nil {
					t.Fatal(gerr)
				}
				if err != nil {
					if deref(a.WithdrawalThreshold) != deref(before.WithdrawalThreshold) {
						return "the threshold from " + deref(before.WithdrawalThreshold) + " to " + deref(a.WithdrawalThreshold), err
					}
					return "", err
				}
				if a.WithdrawalThreshold == nil || out.UpdateAsset.Asset.WithdrawalThreshold == nil || *a.WithdrawalThreshold != *out.UpdateAsset.Asset.WithdrawalThreshold {
					return "", fmt.Errorf("threshold answered %v, read back %v", deref(out.UpdateAsset.Asset.WithdrawalThreshold), deref(a.WithdrawalThreshold))
				}
				return *a.WithdrawalThreshold, nil
			}},
		{name: "setFee fixed",
			do: func(v any) (string, error) {
				fixedOf := func() string {
					a, err := getAsset(ctx, op, fee.ID)
					if err != nil {
						t.Fatal(err)
					}
					if a.SendingFee == nil {
						return "<none>"
					}
					return a.SendingFee.Fixed
				}
				before := fixedOf()
				err := send(`mutation($input: SetFeeInput!) { setFee(input: $input) { fee { id } } }`,
					map[string]any{"assetId": fee.ID, "type": "SENDING", "fee": map[string]any{"fixed": v, "basisPoints": 0}}, nil)
				after := fixedOf()
				if err != nil && after != before {
					return "the fee from " + before + " to " + after, err
				}
				if err != nil {
					return "", err
				}
				return after, nil
			}},
	}
	for _, tg := range targets {
		for _, v := range values {
			t.Run(tg.name+"/"+v.name, func(t *testing.T) {
				stated, err := tg.do(v.in)
				refusable := !v.accept
				if tg.ledgerMax && v.exact != "" {
					if n, _ := new(big.Int).SetString(v.exact, 10); n.Cmp(big.NewInt(1<<63-1)) > 0 {
						refusable = true
					}
				}
				code := refusalCode(err)
				switch {
				case err != nil && v.inexact && !(code == "UNAUTHENTICATED" && strings.Contains(err.Error(), "send it as a string")) && code != "BAD_USER_INPUT":
					t.Errorf("%v: refused with %v (code %q), want a refusal saying to send it as a string", v.in, err, code)
				case err != nil && !v.inexact && code != "BAD_USER_INPUT":
					t.Errorf("%v: refused with %v (code %q), want BAD_USER_INPUT", v.in, err, code)
				case err != nil && !refusable:
					t.Errorf("%v: refused (%v); Rafiki takes it as %s", v.in, err, v.exact)
				case err != nil && stated != "0" && stated != "":
					t.Errorf("%v: refused, yet %s moved", v.in, stated)
				case err == nil && v.exact == "":
					t.Errorf("%v: taken as %s; it names no unsigned integer and must be refused (BAD_USER_INPUT)", v.in, stated)
				case err == nil && stated != v.exact:
					t.Errorf("%v: taken as %s, not the %s sent: an amount silently changed; it must be refused or taken exactly", v.in, stated, v.exact)
				}
			})
		}
	}
	checkLedger(t, s)
}

// amountsRates is an exchange rates service answering prices in USD.
func amountsRates(t *testing.T, prices string) string {
	t.Helper()
	rates := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("base") != "USD" {
			http.Error(w, "unknown base", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{"base":"USD","rates":` + prices + `}`))
	}))
	t.Cleanup(rates.Close)
	return rates.URL
}

// amountsRate is a rate as the decimal it prints as, times ten to a power.
func amountsRate(t *testing.T, rate float64, scaleDiff int) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(rate, 'g', -1, 64))
	if !ok {
		t.Fatalf("rate %v", rate)
	}
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(scaleDiff, -scaleDiff))), nil))
	if scaleDiff >= 0 {
		return r.Mul(r, p)
	}
	return r.Quo(r, p)
}

func amountsFloor(r *big.Rat) *big.Int { return new(big.Int).Quo(r.Num(), r.Denom()) }

func amountsCeil(r *big.Rat) *big.Int {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// amountsFee is ceil(principal × basisPoints / 10000) + fixed, exactly.
func amountsFee(principal *big.Int, basisPoints int64, fixed string) *big.Int {
	f := new(big.Rat).SetFrac(new(big.Int).Mul(principal, big.NewInt(basisPoints)), big.NewInt(10_000))
	fx, _ := new(big.Int).SetString(fixed, 10)
	return new(big.Int).Add(amountsCeil(f), fx)
}

// Quotes whose fee, scale or rate arithmetic reaches past 64 bits, and
// fees at and past their bounds: every quote taken states exactly what
// Rafiki's arithmetic gives, rounded against the sender on neither side
// (the receiver gets no more than the debit less fees buys; the debit
// less fees buys at least the delivery), and reads back the same; every
// one refused is BAD_USER_INPUT.
func TestAmountsQuoteFeesScalesAndRates(t *testing.T) {
	s := startSystem(t, false, func(c *config.Config) {
		c.ExchangeRatesURL = amountsRates(t, `{"TINY":1e-300,"HUGE":1e300,"EUR":0.5}`)
		c.QuoteLifespan = time.Minute
	})
	ctx := context.Background()
	op := s.operator
	setFee := func(c *adminclient.Client, assetID, fixed string, basisPoints any) error {
		return c.Do(ctx, `mutation($input: SetFeeInput!) { setFee(input: $input) { fee { id } } }`, map[string]any{"input": map[string]any{
			"assetId": assetID, "type": "SENDING", "fee": map[string]any{"fixed": fixed, "basisPoints": basisPoints}}}, nil)
	}

	// Fees past their bounds are refused, and leave the fee as it was.
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := setFee(op, usd.ID, "10", 100); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		fixed       string
		basisPoints any
	}{
		{"basis points 10001", "0", 10001},
		{"basis points -1", "0", -1},
		{"basis points 2^31", "0", 2147483648},
		{"basis points 1.5", "0", 1.5},
		{"fixed -1", "-1", 0},
		{"fixed 2^64", "18446744073709551616", 0},
	} {
		if err := setFee(op, usd.ID, tc.fixed, tc.basisPoints); !refused(err, "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED") {
			t.Errorf("setFee with %s: %v (code %q), want BAD_USER_INPUT", tc.name, err, refusalCode(err))
		}
	}
	if a, err := getAsset(ctx, op, usd.ID); err != nil || a.SendingFee == nil || a.SendingFee.Fixed != "10" || a.SendingFee.BasisPoints != 100 {
		t.Errorf("the fee after the refused ones: %+v %v, want 10 and 100 basis points", a.SendingFee, err)
	}

	// Each fee is a tenant of its own, whose assets carry it from before
	// their first quote: a quote may apply a fee changed a moment ago as
	// Rafiki's fee cache does, and these rows are about arithmetic.
	type party struct {
		asset  assetOut
		wallet walletAddressOut
		into   incomingPaymentOut
	}
	type feeWorld struct {
		c       *adminclient.Client
		parties map[string]party
	}
	worlds := map[string]*feeWorld{}
	partyOf := func(t *testing.T, fixed string, basisPoints int64, key string) party {
		t.Helper()
		wk := fmt.Sprintf("%s/%d", fixed, basisPoints)
		w := worlds[wk]
		if w == nil {
			secret := "secret-" + uuid.NewString()
			var created struct {
				CreateTenant struct{ Tenant struct{ ID string } } `json:"createTenant"`
			}
			if err := op.Do(ctx, `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
				map[string]any{"input": map[string]any{"apiSecret": secret, "settings": []map[string]any{
					{"key": "WALLET_ADDRESS_URL", "value": fmt.Sprintf("http://wallet.test/fees-%d", len(worlds))}}}}, &created); err != nil {
				t.Fatal(err)
			}
			w = &feeWorld{c: s.client(created.CreateTenant.Tenant.ID, secret), parties: map[string]party{}}
			worlds[wk] = w
		}
		if p, ok := w.parties[key]; ok {
			return p
		}
		code, scaleText, _ := strings.Cut(key, "/")
		scale, _ := strconv.Atoi(scaleText)
		var p party
		var err error
		if p.asset, err = createAsset(ctx, w.c, code, scale, nil); err != nil {
			t.Fatal(err)
		}
		if fixed != "0" || basisPoints != 0 {
			if err := setFee(w.c, p.asset.ID, fixed, basisPoints); err != nil {
				t.Fatal(err)
			}
		}
		if p.wallet, err = createWalletAddress(ctx, w.c, map[string]any{"assetId": p.asset.ID, "address": "q-" + strings.ToLower(code) + "-" + scaleText}); err != nil {
			t.Fatal(err)
		}
		if p.into, err = createIncomingPayment(ctx, w.c, map[string]any{"walletAddressId": p.wallet.ID}); err != nil {
			t.Fatal(err)
		}
		w.parties[key] = p
		return p
	}

	type quoteCase struct {
		name           string
		fixed          string // the sender's asset's sending fee
		basisPoints    int64
		from, to       string // asset keys
		debit, receive string // what is asked: one of them
		rate           float64
		// want is the debit and receive amounts; "" when the quote must be
		// refused as BAD_USER_INPUT.
		wantDebit, wantReceive string
	}
	for _, tc := range []quoteCase{
		{name: "all fees: 10000 basis points of a fixed debit", fixed: "0", basisPoints: 10_000, from: "USD/2", to: "USD/2", debit: "100"},
		{name: "10000 basis points on a fixed delivery double it", fixed: "0", basisPoints: 10_000, from: "USD/2", to: "USD/2", receive: "100",
			rate: 1, wantDebit: "200", wantReceive: "100"},
		{name: "10000 basis points on a delivery of 2^63", fixed: "0", basisPoints: 10_000, from: "USD/2", to: "USD/2", receive: "9223372036854775808"},
		{name: "a fixed fee of 2^64-1 on a delivery of 1", fixed: amountsU64Max, from: "USD/2", to: "USD/2", receive: "1"},
		{name: "a fixed fee of 2^64-1 on a debit of 2^64-1", fixed: amountsU64Max, from: "USD/2", to: "USD/2", debit: amountsU64Max},
		{name: "a fixed fee of 2^63-2 on a delivery of 1: a debit of exactly 2^63-1, the ledger's largest", fixed: "9223372036854775806",
			from: "USD/2", to: "USD/2", receive: "1", rate: 1, wantDebit: amountsI64Max, wantReceive: "1"},
		{name: "a fixed fee of 2^63-2 on a delivery of 2: a debit past the ledger's largest", fixed: "9223372036854775806",
			from: "USD/2", to: "USD/2", receive: "2"},
		{name: "1 basis point on the largest delivery it fits", fixed: "0", basisPoints: 1, from: "USD/2", to: "USD/2",
			receive: "9222449791875588248", rate: 1, wantDebit: amountsI64Max, wantReceive: "9222449791875588248"},
		{name: "1 basis point on one more", fixed: "0", basisPoints: 1, from: "USD/2", to: "USD/2", receive: "9222449791875588249"},
		{name: "1 basis point on a debit of 2^63-1", fixed: "0", basisPoints: 1, from: "USD/2", to: "USD/2", debit: amountsI64Max,
			rate: 1, wantDebit: amountsI64Max, wantReceive: "9222449699651090329"},
		{name: "a debit of 2^63, past the ledger's largest", fixed: "0", from: "USD/2", to: "USD/2", debit: "9223372036854775808"},
		{name: "scale 0 to 18, 9 units", fixed: "0", from: "USD/0", to: "USD/18", debit: "9", rate: 1,
			wantDebit: "9", wantReceive: "9000000000000000000"},
		{name: "scale 0 to 18, 10 units: a delivery past the ledger's largest", fixed: "0", from: "USD/0", to: "USD/18", debit: "10"},
		{name: "scale 0 to 18, 19 units: past 2^64", fixed: "0", from: "USD/0", to: "USD/18", debit: "19"},
		{name: "scale 18 to 0, a delivery of 19 units costs past 2^64", fixed: "0", from: "USD/18", to: "USD/0", receive: "19"},
		{name: "scale 18 to 0, a delivery of 3 units", fixed: "0", from: "USD/18", to: "USD/0", receive: "3", rate: 1,
			wantDebit: "3000000000000000000", wantReceive: "3"},
		{name: "a rate of 1e-300, a fixed debit buys nothing", fixed: "0", from: "USD/2", to: "TINY/2", debit: "1000000"},
		{name: "a rate of 1e-300, a fixed delivery costs past 2^64", fixed: "0", from: "USD/2", to: "TINY/2", receive: "1"},
		{name: "a rate of 1e300, a fixed debit buys past 2^64", fixed: "0", from: "USD/2", to: "HUGE/2", debit: "1"},
		{name: "a rate of 1e300, a fixed delivery of 2^63-1 costs 1", fixed: "0", from: "USD/2", to: "HUGE/2", receive: amountsI64Max,
			rate: 1e300, wantDebit: "1", wantReceive: amountsI64Max},
		{name: "a rate of 1e300, a fixed delivery of 2^63 is past the ledger's largest", fixed: "0", from: "USD/2", to: "HUGE/2",
			receive: "9223372036854775808"},
		{name: "a rate of 0.5 and fees on a fixed debit", fixed: "10", basisPoints: 100, from: "USD/2", to: "EUR/2", debit: "401", rate: 0.5,
			wantDebit: "401", wantReceive: "193"},
		{name: "a rate of 0.5 and fees on a fixed delivery", fixed: "10", basisPoints: 100, from: "USD/2", to: "EUR/2", receive: "1", rate: 0.5,
			wantDebit: "13", wantReceive: "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sender, receiver := partyOf(t, tc.fixed, tc.basisPoints, tc.from), partyOf(t, tc.fixed, tc.basisPoints, tc.to)
			c := worlds[fmt.Sprintf("%s/%d", tc.fixed, tc.basisPoints)].c
			input := map[string]any{"walletAddressId": sender.wallet.ID, "receiver": receiver.into.URL}
			from, to := sender.asset, receiver.asset
			if tc.debit != "" {
				input["debitAmount"] = map[string]any{"value": tc.debit, "assetCode": from.Code, "assetScale": from.Scale}
			} else {
				input["receiveAmount"] = map[string]any{"value": tc.receive, "assetCode": to.Code, "assetScale": to.Scale}
			}
			q, err := createQuote(ctx, c, input)
			if tc.wantDebit == "" {
				if refusalCode(err) != "BAD_USER_INPUT" {
					t.Fatalf("quote %+v (err %v, code %q), want BAD_USER_INPUT", q, err, refusalCode(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v; want a debit of %s for a delivery of %s", err, tc.wantDebit, tc.wantReceive)
			}
			if q.DebitAmount.Value != tc.wantDebit || q.ReceiveAmount.Value != tc.wantReceive || q.DebitAmount.AssetCode != from.Code ||
				q.DebitAmount.AssetScale != from.Scale || q.ReceiveAmount.AssetCode != to.Code || q.ReceiveAmount.AssetScale != to.Scale {
				t.Errorf("quote debits %+v, delivers %+v; want %s and %s", q.DebitAmount, q.ReceiveAmount, tc.wantDebit, tc.wantReceive)
			}
			// Rounded against the sender on neither side, exactly.
			debit, _ := new(big.Int).SetString(q.DebitAmount.Value, 10)
			receive, _ := new(big.Int).SetString(q.ReceiveAmount.Value, 10)
			rate := amountsRate(t, tc.rate, to.Scale-from.Scale)
			var minusFees *big.Int
			if tc.debit != "" {
				minusFees = new(big.Int).Sub(debit, amountsFee(debit, tc.basisPoints, tc.fixed))
			} else {
				minusFees = amountsCeil(new(big.Rat).Quo(new(big.Rat).SetInt(receive), rate))
				if want := new(big.Int).Add(minusFees, amountsFee(minusFees, tc.basisPoints, tc.fixed)); debit.Cmp(want) != 0 {
					t.Errorf("a delivery of %s costs %s before fees, %s with them; the quote debits %s", receive, minusFees, want, debit)
				}
			}
			if buys := amountsFloor(new(big.Rat).Mul(new(big.Rat).SetInt(minusFees), rate)); receive.Cmp(buys) > 0 {
				t.Errorf("the quote delivers %s for a debit of %s less fees, %s, which buys only %s at %s", receive, debit, minusFees, buys, rate.FloatString(30))
			}
			var got struct{ Quote quoteOut }
			if err := c.Do(ctx, `query($id: String!) { quote(id: $id) { `+quoteFields+` } }`, map[string]any{"id": q.ID}, &got); err != nil ||
				got.Quote.DebitAmount != q.DebitAmount || got.Quote.ReceiveAmount != q.ReceiveAmount {
				t.Errorf("quote read back %+v (%v), answered %+v", got.Quote, err, q)
			}
		})
	}
}

// A delivery the ledger can never make (past 2^63 - 1, the Postgres
// ledger's largest transfer) is refused before the sender's money is taken,
// as a debit past it is refused at funding: otherwise the funded payment
// sits in SENDING, its money locked, retrying a transfer the ledger refuses
// every time.
func TestAmountsDeliveryPastTheLedgerIsRefusedBeforeFunding(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	op := s.operator
	whole, err := createAsset(ctx, op, "USD", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	nano, err := createAsset(ctx, op, "USD", 9, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice, _, into := amountsPayerAndPayee(t, op, whole.ID, nano.ID, "past")
	// 10^10 whole dollars are 10^19 nano-dollars: within 2^64 - 1, past
	// 2^63 - 1.
	q, err := createQuote(ctx, op, map[string]any{"walletAddressId": alice.ID, "receiver": into.URL,
		"debitAmount": map[string]any{"value": "10000000000", "assetCode": "USD", "assetScale": 0}})
	if err != nil {
		if refusalCode(err) != "BAD_USER_INPUT" {
			t.Fatalf("quote refused with %v, want BAD_USER_INPUT", err)
		}
		return
	}
	o := newOutgoing(s)
	id, err := o.create(alice.ID, q.ID, nil)
	if err != nil {
		if refusalCode(err) != "BAD_USER_INPUT" {
			t.Fatalf("payment refused with %v, want BAD_USER_INPUT", err)
		}
		return
	}
	err = o.fund(id)
	if err != nil {
		if refusalCode(err) != "BAD_USER_INPUT" {
			t.Fatalf("funding refused with %v, want BAD_USER_INPUT", err)
		}
		return
	}
	var p outgoingPaymentOut
	testkit.Eventually(t, 5*time.Second, func() bool {
		p, err = o.get(id)
		return err == nil && (p.StateAttempts > 0 || p.State == "COMPLETED" || p.State == "FAILED")
	}, "payment %s not sent", id)
	if p.State != "COMPLETED" || p.SentAmount.Value != q.DebitAmount.Value {
		t.Errorf("a quote delivering %s %s/%d (past the ledger's 2^63 - 1) was taken, paid for and funded with %s; the payment is %s "+
			"after %d attempts, error %q, sent %s, its money held (liquidity %s); it must be refused when quoted (BAD_USER_INPUT: no "+
			"ledger moves it, and Rafiki's quotes hold amounts in bigint columns)",
			q.ReceiveAmount.Value, q.ReceiveAmount.AssetCode, q.ReceiveAmount.AssetScale, q.DebitAmount.Value, p.State, p.StateAttempts,
			deref(p.Error), p.SentAmount.Value, deref(p.Liquidity))
	}
	checkLedger(t, s)
}

// The largest payment the ledger moves, made and settled to the unit: a
// fixed delivery whose fee makes the debit exactly 2^63 - 1 is funded,
// delivers exactly, keeps exactly its fee, and gives it all back; what the
// admin API states is what the ledger holds throughout.
func TestAmountsLargestPaymentTheLedgerTakes(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, `mutation($input: SetFeeInput!) { setFee(input: $input) { fee { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "type": "SENDING", "fee": map[string]any{"fixed": "9223372036854774807", "basisPoints": 0}}}, nil); err != nil {
		t.Fatal(err)
	}
	alice, _, into := amountsPayerAndPayee(t, op, usd.ID, usd.ID, "top")
	q, err := createQuote(ctx, op, map[string]any{"walletAddressId": alice.ID, "receiver": into.URL,
		"receiveAmount": map[string]any{"value": "1000", "assetCode": "USD", "assetScale": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if q.DebitAmount.Value != amountsI64Max || q.ReceiveAmount.Value != "1000" {
		t.Fatalf("quote %+v, want a debit of 2^63 - 1 for 1000", q)
	}
	o := newOutgoing(s)
	id, err := o.create(alice.ID, q.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.fund(id); err != nil {
		t.Fatalf("funding a debit of exactly 2^63 - 1: %v", err)
	}
	p, _ := o.finished(t, id, 15*time.Second)
	balance, err := s.running.Deps.Ledger.Balance(ctx, uuid.MustParse(id))
	if err != nil {
		t.Fatal(err)
	}
	if p.State != "COMPLETED" || p.SentAmount.Value != "1000" || p.DebitAmount.Value != amountsI64Max || deref(p.Liquidity) != "9223372036854774807" ||
		deref(p.Liquidity) != strconv.FormatUint(balance, 10) {
		t.Errorf("payment of 2^63 - 1 for 1000: %+v error %s, liquidity %s, the ledger holds %d; want COMPLETED, 1000 sent, the fee 9223372036854774807 held",
			p, deref(p.Error), deref(p.Liquidity), balance)
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		ip, err := getIncomingPayment(ctx, op, into.ID)
		return err == nil && ip.ReceivedAmount.Value == "1000" && deref(ip.Liquidity) == "1000"
	}, "the incoming payment did not receive exactly 1000")
	if err := op.Do(ctx, withdrawPaymentQ, map[string]any{"input": map[string]any{"outgoingPaymentId": id, "idempotencyKey": uuid.NewString(),
		"timeoutSeconds": "0"}}, nil); err != nil {
		t.Fatalf("withdrawing the fee of 9223372036854774807: %v", err)
	}
	if p, err := o.get(id); err != nil || deref(p.Liquidity) != "0" {
		t.Errorf("payment after its withdrawal: %+v %v", p, err)
	}
	checkLedger(t, s)
}

// Liquidity moved at the edges of the balance and of the ledger: more than
// the balance, exactly the balance, settling a withdrawal twice or both
// ways, settling one that was posted when made, an amount past the ledger,
// deposits and withdrawals racing on one account. Each answer is Rafiki's,
// and the liquidity stated is the ledger's.
func TestAmountsLiquidityAtTheEdges(t *testing.T) {
	s := startSystem(t, false)
	ctx := context.Background()
	op := s.operator
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	deposit := func(id string, amount any) error {
		return amountsMutate(op, "depositAssetLiquidity", map[string]any{"assetId": usd.ID, "amount": amount, "id": id})
	}
	withdraw := func(id string, amount any, timeout string) error {
		return amountsMutate(op, "createAssetLiquidityWithdrawal", map[string]any{"assetId": usd.ID, "amount": amount, "id": id, "timeoutSeconds": timeout})
	}
	post := func(id string) error {
		return amountsMutate(op, "postLiquidityWithdrawal", map[string]any{"withdrawalId": id})
	}
	void := func(id string) error {
		return amountsMutate(op, "voidLiquidityWithdrawal", map[string]any{"withdrawalId": id})
	}
	d1, w1, d2, w2, d3, w3 := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	for _, step := range []struct {
		name      string
		do        func() error
		code      string // "" for success; codes accepted, separated by |
		liquidity string
		why       string
	}{
		{"deposit 1000", func() error { return deposit(d1, "1000") }, "", "1000", ""},
		{"withdraw one more than the balance", func() error { return withdraw(uuid.NewString(), "1001", "0") }, "FORBIDDEN", "1000", ""},
		// Rafiki answers insufficient balance; past the ledger's amounts an
		// invalid amount is as clear.
		{"withdraw 2^64-1", func() error { return withdraw(uuid.NewString(), amountsU64Max, "0") }, "FORBIDDEN|BAD_USER_INPUT", "1000", ""},
		{"withdraw 0", func() error { return withdraw(uuid.NewString(), "0", "0") }, "BAD_USER_INPUT", "1000", ""},
		{"withdraw exactly the balance, posted at once", func() error { return withdraw(w1, "1000", "0") }, "", "0", ""},
		{"withdraw 1 from nothing", func() error { return withdraw(uuid.NewString(), "1", "0") }, "FORBIDDEN", "0", ""},
		{"the first deposit's id again, same amount", func() error { return deposit(d1, "1000") }, "DUPLICATE", "0", ""},
		{"the first deposit's id again, another amount", func() error { return deposit(d1, "999") }, "DUPLICATE", "0", ""},
		{"the withdrawal's id for a deposit", func() error { return deposit(w1, "5") }, "DUPLICATE", "0", ""},
		{"deposit 2^63, past the ledger", func() error { return deposit(uuid.NewString(), "9223372036854775808") }, "BAD_USER_INPUT", "0", ""},
		{"deposit 500", func() error { return deposit(d2, "500") }, "", "500", ""},
		{"hold all 500 for a minute", func() error { return withdraw(w2, "500", "60") }, "", "0", ""},
		{"post it", func() error { return post(w2) }, "", "0", ""},
		{"post it again", func() error { return post(w2) }, "CONFLICT", "0", ""},
		{"void it after its post", func() error { return void(w2) }, "CONFLICT", "0", ""},
		{"deposit 300", func() error { return deposit(d3, "300") }, "", "300", ""},
		{"hold 300 for a minute", func() error { return withdraw(w3, "300", "60") }, "", "0", ""},
		{"void it", func() error { return void(w3) }, "", "300", ""},
		{"void it again", func() error { return void(w3) }, "CONFLICT", "300", ""},
		{"post it after its void", func() error { return post(w3) }, "CONFLICT", "300", ""},
		{"post the withdrawal posted when made", func() error { return post(w1) }, "CONFLICT", "300",
			"it was posted when made (timeout 0), and Rafiki's ledger answers AlreadyPosted"},
		{"void the withdrawal posted when made", func() error { return void(w1) }, "CONFLICT", "300", ""},
		{"post a deposit", func() error { return post(d2) }, "NOT_FOUND", "300", ""},
	} {
		err := step.do()
		if got := refusalCode(err); !slices.Contains(strings.Split(step.code, "|"), got) {
			t.Errorf("%s: answered %v (code %q), want %q %s", step.name, err, got, step.code, step.why)
		}
		if got := amountsAssetLiquidity(t, s, usd.ID); got != step.liquidity {
			t.Errorf("%s: liquidity %s, want %s", step.name, got, step.liquidity)
		}
	}

	// Deposits and withdrawals of the whole balance racing on one account:
	// the withdrawal is taken only when the deposit came first, and the
	// liquidity is what those told success add up to.
	balance := uint64(300)
	for round := range 10 {
		add := uint64(100 + round)
		errs := concurrently(2, func(i int) error {
			if i == 0 {
				return deposit(uuid.NewString(), strconv.FormatUint(add, 10))
			}
			return withdraw(uuid.NewString(), strconv.FormatUint(balance+add, 10), "0")
		})
		if errs[0] != nil {
			t.Fatalf("round %d: deposit %v", round, errs[0])
		}
		balance += add
		switch {
		case errs[1] == nil:
			balance = 0
		case refusalCode(errs[1]) != "FORBIDDEN":
			t.Errorf("round %d: the withdrawal of the whole balance: %v, want success or FORBIDDEN", round, errs[1])
		}
		if got := amountsAssetLiquidity(t, s, usd.ID); got != strconv.FormatUint(balance, 10) {
			t.Errorf("round %d: liquidity %s, the answers add up to %d", round, got, balance)
		}
	}

	// Sixteen withdrawals of the whole balance at once, three times: one is
	// taken, the others refused as Rafiki refuses them, for the balance
	// (FORBIDDEN, insufficient balance), not for the race.
	if balance > 0 {
		if err := withdraw(uuid.NewString(), strconv.FormatUint(balance, 10), "0"); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 {
		if err := deposit(uuid.NewString(), "500"); err != nil {
			t.Fatal(err)
		}
		errs := concurrently(16, func(int) error { return withdraw(uuid.NewString(), "500", "0") })
		if successes(errs) != 1 {
			t.Errorf("round %d: 16 withdrawals of the whole balance of 500 at once: %d told success, want 1", round, successes(errs))
		}
		for _, err := range errs {
			if err != nil && refusalCode(err) != "FORBIDDEN" {
				t.Errorf("round %d: a withdrawal of the whole balance racing others: %v (code %q), want FORBIDDEN (insufficient balance), as "+
					"Rafiki decides each against the balance", round, err, refusalCode(err))
			}
		}
		if got := amountsAssetLiquidity(t, s, usd.ID); got != "0" {
			t.Errorf("round %d: liquidity %s after the whole balance was withdrawn", round, got)
		}
	}
	checkLedger(t, s)
}

// A grant limiting what its payments deliver does not limit what they
// debit: the debits it states as spent, in the answer to a payment's
// creation and at GET /outgoing-payment-grant, are summed in 64 bits. Past
// 2^64 - 1 they wrap, and the grant states less spent than one of its
// payments took. A payment that would take the total past what an amount
// can state must be refused, or the total stated exactly.
func TestAmountsGrantSpentDebitNeverWraps(t *testing.T) {
	s := startResourceServer(t)
	ctx := context.Background()
	op := s.operator
	tenant := op.TenantID
	base := "http://wallet.test/" + tenant
	usd, err := createAsset(ctx, op, "USD", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A fixed fee of nearly all of 2^63 - 1: each payment debits 2^63 - 1
	// and delivers 100.
	if err := op.Do(ctx, `mutation($input: SetFeeInput!) { setFee(input: $input) { fee { id } } }`, map[string]any{"input": map[string]any{
		"assetId": usd.ID, "type": "SENDING", "fee": map[string]any{"fixed": "9223372036854775707", "basisPoints": 0}}}, nil); err != nil {
		t.Fatal(err)
	}
	alice, _, into := amountsPayerAndPayee(t, op, usd.ID, usd.ID, "wrap")
	client := newOPClient(t)
	usdLimit := func(v string) *events.GrantAmount {
		return &events.GrantAmount{Value: v, AssetCode: "USD", AssetScale: 2}
	}
	for _, tc := range []struct {
		name   string
		limits events.GrantLimits
		// refused is the payment (1, 2, 3) that must be refused as past the
		// limit (403); 0 when none must be.
		refused int
	}{
		// Debits are not limited: the third payment takes them past 2^64 -
		// 1, which must be refused or stated exactly.
		{"a receive limit", events.GrantLimits{ReceiveAmount: usdLimit("1000")}, 0},
		// The limit holds two, to the unit, and refuses the third.
		{"a debit limit of 2^64 - 1", events.GrantLimits{DebitAmount: usdLimit(amountsU64Max)}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limits := tc.limits
			_, token := interactiveGrant(t, s, client, tenant, events.GrantAccess{Type: grant.TypeOutgoingPayment,
				Actions: []string{grant.ActionCreate, grant.ActionRead}, Identifier: "http://wallet.test/wrap-alice", Limits: &limits})
			total := new(big.Int)
			for i := range 3 {
				q, err := createQuote(ctx, op, map[string]any{"walletAddressId": alice.ID, "receiver": into.URL,
					"debitAmount": map[string]any{"value": amountsI64Max, "assetCode": "USD", "assetScale": 2}})
				if err != nil {
					t.Fatal(err)
				}
				if q.ReceiveAmount.Value != "100" {
					t.Fatalf("quote %+v", q)
				}
				status, _, answer, _ := send(t, client, s.opURL, http.MethodPost, base+"/outgoing-payments", token,
					[]byte(fmt.Sprintf(`{"walletAddress":"http://wallet.test/wrap-alice","quoteId":%q}`, base+"/quotes/"+q.ID)))
				fits := new(big.Int).Add(total, big.NewInt(1<<63-1)).IsUint64()
				if i+1 == tc.refused {
					if status != http.StatusForbidden {
						t.Errorf("payment %d of 2^63 - 1, past the limit: %d %s, want 403", i+1, status, answer)
					}
					break
				}
				if status == http.StatusForbidden || status == http.StatusBadRequest {
					if fits {
						t.Errorf("payment %d of 2^63 - 1 refused (%d %s) though the total fits", i+1, status, answer)
					}
					break
				}
				if status != http.StatusCreated {
					t.Fatalf("payment %d: %d %s", i+1, status, answer)
				}
				total.Add(total, big.NewInt(1<<63-1))
				var out struct {
					GrantSpentDebitAmount, GrantSpentReceiveAmount amountOut
				}
				if err := json.Unmarshal(answer, &out); err != nil {
					t.Fatal(err)
				}
				if out.GrantSpentDebitAmount.Value != total.String() {
					t.Errorf("payment %d of 2^63 - 1: its answer states grantSpentDebitAmount %s for the %s its grant's payments debited: "+
						"the sum wrapped; a payment taking the total past 2^64 - 1 must be refused", i+1, out.GrantSpentDebitAmount.Value, total)
				}
				var status2 int
				var body []byte
				var stated string
				for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
					status2, _, body, _ = send(t, client, s.opURL, http.MethodGet, base+"/outgoing-payment-grant", token, nil)
					var spent struct{ SpentDebitAmount *amountOut }
					if status2 == http.StatusOK && json.Unmarshal(body, &spent) == nil && spent.SpentDebitAmount != nil {
						if stated = spent.SpentDebitAmount.Value; stated == total.String() {
							break
						}
					}
				}
				if stated != total.String() {
					t.Errorf("GET /outgoing-payment-grant after %d payments debiting %s in all: %d %s, want 200 stating what was spent", i+1, total, status2, body)
				}
			}
		})
	}
}

// amountsPayerAndPayee makes alice, paying in asset from, and bob, in asset
// to, with an open incoming payment into bob; their addresses start with
// prefix.
func amountsPayerAndPayee(t *testing.T, op *adminclient.Client, from, to, prefix string) (alice, bob walletAddressOut, into incomingPaymentOut) {
	t.Helper()
	ctx := context.Background()
	var err error
	if alice, err = createWalletAddress(ctx, op, map[string]any{"assetId": from, "address": prefix + "-alice"}); err != nil {
		t.Fatal(err)
	}
	if bob, err = createWalletAddress(ctx, op, map[string]any{"assetId": to, "address": prefix + "-bob"}); err != nil {
		t.Fatal(err)
	}
	if into, err = createIncomingPayment(ctx, op, map[string]any{"walletAddressId": bob.ID}); err != nil {
		t.Fatal(err)
	}
	return alice, bob, into
}
