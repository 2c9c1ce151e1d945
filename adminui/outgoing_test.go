package adminui_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/testkit"
)

var incomingURLRE = regexp.MustCompile(`<dt>URL</dt><dd>([^<]+)</dd>`)

// formOf is the form of the current page that posts to action, with its
// hidden fields (CSRF token, transfer id or idempotency key) and fields,
// for posting it more than once.
func formOf(t *testing.T, b *browser, action string, fields map[string]string) url.Values {
	t.Helper()
	for _, m := range formRE.FindAllStringSubmatch(b.page, -1) {
		if m[1] != action {
			continue
		}
		form := url.Values{}
		for _, h := range hiddenRE.FindAllStringSubmatch(m[0], -1) {
			form.Set(h[1], h[2])
		}
		for k, v := range fields {
			form.Set(k, v)
		}
		return form
	}
	t.Fatalf("no form posting to %s on %s", action, b.path)
	return nil
}

// testOutgoingPayments pays one wallet address's incoming payment from
// another through the pages: the receiving side's form creates the
// incoming payment, the sending side's form the outgoing payment, whose
// page funds it, shows it completed and withdraws its fee.
func testOutgoingPayments(t *testing.T, s *system) {
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	b.get("/assets/new").submit("/assets/new", map[string]string{"code": "OUT", "scale": "2"}).sees(http.StatusOK, "Asset created.")
	assetID := b.idFrom()
	// A fixed sending fee of 0.10 stays in each payment's account.
	b.submit("/assets/"+assetID+"/fee", map[string]string{"type": "SENDING", "fixed": "0.10", "basisPoints": "0"}).sees(http.StatusOK, "Fee set.")

	b.get("/wallet-addresses/new").submit("/wallet-addresses/new", map[string]string{"assetId": assetID, "address": "bob-out"}).
		sees(http.StatusOK, "Wallet address created.")
	bob := "/wallet-addresses/" + b.idFrom()
	b.submit(bob+"/request", map[string]string{"incomingAmount": "5.001"}).
		sees(http.StatusUnprocessableEntity, "Incoming amount: &#34;5.001&#34; has more decimal places than the asset&#39;s scale (2)", `value="5.001"`)
	b.submit(bob+"/request", map[string]string{"incomingAmount": "5"}).sees(http.StatusOK, "Incoming payment created.", "5.00 OUT", "PENDING")
	incoming := b.path
	m := incomingURLRE.FindStringSubmatch(b.page)
	if m == nil {
		t.Fatalf("no URL on the incoming payment's page:\n%s", b.page)
	}
	receiver := m[1]

	b.get("/wallet-addresses/new").submit("/wallet-addresses/new", map[string]string{"assetId": assetID, "address": "alice-out"}).
		sees(http.StatusOK, "Wallet address created.", "No outgoing payments.")
	alice := "/wallet-addresses/" + b.idFrom()
	// The API's refusal shows, with the values typed kept.
	b.submit(alice+"/send", map[string]string{"receiver": "http://wallet.test/nobody/incoming-payments/x", "debitAmount": "1"}).
		sees(http.StatusUnprocessableEntity, `role="alert"`, "invalid receiver", `value="http://wallet.test/nobody/incoming-payments/x"`)
	b.submit(alice+"/send", map[string]string{"receiver": receiver, "debitAmount": "2.505"}).
		sees(http.StatusUnprocessableEntity, "Debit amount: &#34;2.505&#34; has more decimal places")
	b.submit(alice+"/send", map[string]string{"receiver": receiver, "debitAmount": "2.50"}).
		sees(http.StatusOK, "Outgoing payment created: deposit its liquidity to send it.", `<dd id="state">FUNDING</dd>`,
			`<dd class="num" id="debit">2.50 OUT</dd>`, `<dd class="num" id="receive">2.40 OUT</dd>`, `<dd class="num" id="sent">0.00 OUT</dd>`,
			receiver, "Deposit liquidity", "Cancel payment").lacks("Withdraw liquidity")
	paid := b.path[:strings.Index(b.path, "?")]
	id := b.idFrom()
	if !strings.HasPrefix(paid, "/payments/outgoing/") {
		t.Fatalf("not sent to the payment's page: %s", b.path)
	}
	// Nothing to withdraw while it waits for its money: the API says so.
	b.post(paid+"/withdraw", formOf(t, b, paid+"/deposit", map[string]string{"timeoutSeconds": "0"})).
		sees(http.StatusUnprocessableEntity, `role="alert"`)

	// Data longer than a packet carries is refused by the API, and kept in
	// the form; the deposit form posted twice funds the payment once.
	b.get(paid)
	tooLong := strings.Repeat("d", 40_000)
	b.post(paid+"/deposit", formOf(t, b, paid+"/deposit", map[string]string{"dataToTransmit": tooLong})).
		sees(http.StatusUnprocessableEntity, `role="alert"`, "dataToTransmit is longer than", ">"+tooLong+"</textarea>")
	deposit := formOf(t, b, paid+"/deposit", map[string]string{"dataToTransmit": "invoice 42"})
	b.post(paid+"/deposit", deposit).sees(http.StatusOK, "Liquidity deposited: the payment is being sent.")
	b.post(paid+"/deposit", deposit).sees(http.StatusOK, "Liquidity deposited: the payment is being sent.")
	testkit.Eventually(t, 30*time.Second, func() bool {
		b.get(paid)
		return strings.Contains(b.page, `<dd id="state">COMPLETED</dd>`) && strings.Contains(b.page, "Estimated exchange rate")
	}, "the payment completed, its quote shown")
	b.sees(http.StatusOK, `<dd class="num" id="sent">2.40 OUT</dd>`, `<dd class="num" id="liquidity">0.10 OUT</dd>`, "Withdraw liquidity").
		lacks("Deposit liquidity", "Cancel payment")
	if p, _, err := s.running.Backend.OutgoingPayments.Load(context.Background(), s.cfg.OperatorTenantID, id); err != nil || p.DataToTransmit != "invoice 42" {
		t.Fatalf("the payment funded with %q (%v), want the data typed", p.DataToTransmit, err)
	}
	// The incoming payment hears of the money as it is recorded.
	testkit.Eventually(t, 15*time.Second, func() bool {
		b.get(incoming)
		return strings.Contains(b.page, "<dd>PROCESSING</dd>")
	}, "the incoming payment processing")
	b.sees(http.StatusOK, `<dd class="num">2.40 OUT</dd>`)

	b.get(paid).submit(paid+"/withdraw", map[string]string{"timeoutSeconds": "soon"}).
		sees(http.StatusUnprocessableEntity, "Timeout: &#34;soon&#34; is not a whole number of seconds.")
	b.submit(paid+"/withdraw", map[string]string{"timeoutSeconds": "0"}).
		sees(http.StatusOK, "Liquidity withdrawn.", `<dd class="num" id="liquidity">0.00 OUT</dd>`)

	// Without a debit amount it pays what the receiver still expects, fee
	// on top; the send form posted twice makes one payment, cancelled
	// before it is funded.
	b.get(alice)
	send := formOf(t, b, alice+"/send", map[string]string{"receiver": receiver})
	b.post(alice+"/send", send).sees(http.StatusOK, `<dd class="num" id="debit">2.70 OUT</dd>`, `<dd class="num" id="receive">2.60 OUT</dd>`)
	second := b.idFrom()
	b.post(alice+"/send", send)
	if b.idFrom() != second {
		t.Fatalf("the send form posted twice made %s and %s", second, b.idFrom())
	}
	b.submit("/payments/outgoing/"+second+"/cancel", map[string]string{"reason": "not needed"}).
		sees(http.StatusOK, "Payment cancelled.", `<dd id="state">CANCELLED</dd>`, "&#34;cancellationReason&#34;: &#34;not needed&#34;").
		lacks("Deposit liquidity", "Withdraw liquidity")

	// Its wallet address and the payments list link to its page.
	b.get(alice).sees(http.StatusOK, `href="/payments/outgoing/`+id+`"`, `href="/payments/outgoing/`+second+`"`, "COMPLETED", "CANCELLED")
	b.get("/payments?type=OUTGOING").sees(http.StatusOK, `href="/payments/outgoing/`+id+`"`)
	b.get("/payments/outgoing/"+id).sees(http.StatusOK, `href="/history/`+id+`"`)

	// Its history: the quote it pays and what became of it.
	b.get("/history/"+id).sees(http.StatusOK, "History of outgoing payment "+id, `href="/payments/outgoing/`+id+`"`,
		"quote.created", "outgoing_payment.created", "outgoing_payment.funded", "outgoing_payment.completed")
	times := timeRE.FindAllStringSubmatch(b.page, -1)
	b.get("/history/"+id+"?at="+url.QueryEscape(times[len(times)-1][1])).sees(http.StatusOK, `id="state"`,
		"&#34;outgoing_payment&#34;:", "&#34;quote&#34;:", "&#34;State&#34;: &#34;COMPLETED&#34;")
	b.get("/payments/outgoing/" + uuidLike).sees(http.StatusNotFound)
}

const uuidLike = "00000000-0000-4000-8000-000000000000"

// testOutgoingPages pages a wallet address's outgoing payments on its
// page, from the page itself and from a form's answer alike.
func testOutgoingPages(t *testing.T, s *system) {
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	assetID := createAsset(t, s.operator, "PGO", 2)
	b.get("/wallet-addresses/new").submit("/wallet-addresses/new", map[string]string{"assetId": assetID, "address": "pages-to"}).
		sees(http.StatusOK, "Wallet address created.")
	to := "/wallet-addresses/" + b.idFrom()
	b.submit(to+"/request", nil).sees(http.StatusOK, "Incoming payment created.", "Amount asked</dt><dd>any")
	receiver := incomingURLRE.FindStringSubmatch(b.page)[1]
	b.get("/wallet-addresses/new").submit("/wallet-addresses/new", map[string]string{"assetId": assetID, "address": "pages-from"}).
		sees(http.StatusOK, "Wallet address created.")
	from := "/wallet-addresses/" + b.idFrom()
	var first string // the oldest, on the second page
	for i := range 21 {
		b.get(from).submit(from+"/send", map[string]string{"receiver": receiver, "debitAmount": "0.01"}).sees(http.StatusOK, "Outgoing payment created")
		if i == 0 {
			first = b.idFrom()
		}
	}
	b.get(from).sees(http.StatusOK, `rel="next"`).lacks(first, `rel="prev"`)
	next := linkOf(t, b, "next")
	if !strings.HasPrefix(next, from+"?after=") {
		t.Fatalf("next page: %s", next)
	}
	b.get(next).sees(http.StatusOK, first, `rel="prev"`)
	// A form's answer links to the wallet address's own pages.
	b.get(from).submit(from+"/send", map[string]string{"receiver": ""}).
		sees(http.StatusUnprocessableEntity, "Receiver: enter the incoming payment&#39;s URL.")
	if next := linkOf(t, b, "next"); !strings.HasPrefix(next, from+"?after=") {
		t.Fatalf("next page from a form's answer: %s", next)
	}
}
