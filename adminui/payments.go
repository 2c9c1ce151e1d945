package adminui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

type payment struct {
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	WalletAddressID string          `json:"walletAddressId"`
	State           string          `json:"state"`
	Liquidity       *string         `json:"liquidity"`
	CreatedAt       string          `json:"createdAt"`
	Metadata        json.RawMessage `json:"metadata"`
	Tenant          *tenantRef      `json:"tenant"`
	// WalletAddress is the payment's wallet address, looked up for its
	// address and its asset's scale.
	WalletAddress *walletAddress `json:"-"`
}

type paymentList struct {
	Payments        []payment
	Pager           pager
	Type            string
	WalletAddressID string
}

// payments lists incoming and outgoing payments together, newest first,
// filtered by type and wallet address as the API's payments query is.
func (u *UI) payments(rq *request) {
	q := rq.r.URL.Query()
	list := paymentList{Type: q.Get("type"), WalletAddressID: strings.TrimSpace(q.Get("walletAddressId"))}
	filter := map[string]any{}
	if list.Type == "INCOMING" || list.Type == "OUTGOING" {
		filter["type"] = map[string]any{"in": []string{list.Type}}
	} else {
		list.Type = ""
	}
	if list.WalletAddressID != "" {
		filter["walletAddressId"] = map[string]any{"in": []string{list.WalletAddressID}}
	}
	vars := pageVars(rq.r)
	vars["filter"] = filter
	var out struct {
		Payments struct {
			PageInfo pageInfo `json:"pageInfo"`
			Edges    []struct {
				Node payment `json:"node"`
			} `json:"edges"`
		} `json:"payments"`
	}
	query := `query($after: String, $before: String, $first: Int, $last: Int, $filter: PaymentFilter) {
  payments(after: $after, before: $before, first: $first, last: $last, filter: $filter) { ` + pageInfoFields + `
    edges { node { id type walletAddressId state liquidity createdAt metadata tenant { id } } } } }`
	if err := rq.gql(query, vars, &out); err != nil {
		rq.render(http.StatusUnprocessableEntity, "payments", "Payments", list, u.problem(err))
		return
	}
	list.Pager = newPager(rq.r, out.Payments.PageInfo)
	for _, e := range out.Payments.Edges {
		list.Payments = append(list.Payments, e.Node)
	}
	wallets, err := rq.walletAddressesByID(list.Payments)
	if err != nil {
		rq.apiFailed(err)
		return
	}
	for i := range list.Payments {
		list.Payments[i].WalletAddress = wallets[list.Payments[i].WalletAddressID]
	}
	rq.render(http.StatusOK, "payments", "Payments", list)
}

// walletAddressesByID looks up the wallet addresses of a page of payments
// in one request, one aliased field each.
func (rq *request) walletAddressesByID(payments []payment) (map[string]*walletAddress, error) {
	var ids []string
	seen := map[string]bool{}
	for _, p := range payments {
		if !seen[p.WalletAddressID] {
			seen[p.WalletAddressID] = true
			ids = append(ids, p.WalletAddressID)
		}
	}
	found := map[string]*walletAddress{}
	if len(ids) == 0 {
		return found, nil
	}
	var params, fields []string
	vars := map[string]any{}
	for i, id := range ids {
		params = append(params, fmt.Sprintf("$w%d: String!", i))
		fields = append(fields, fmt.Sprintf("w%d: walletAddress(id: $w%d) { id address asset { code scale } }", i, i))
		vars[fmt.Sprintf("w%d", i)] = id
	}
	var out map[string]*walletAddress
	if err := rq.gql("query("+strings.Join(params, ", ")+") { "+strings.Join(fields, " ")+" }", vars, &out); err != nil {
		return nil, err
	}
	for _, w := range out {
		if w != nil {
			found[w.ID] = w
		}
	}
	return found, nil
}

type amountOut struct {
	Value      string `json:"value"`
	AssetCode  string `json:"assetCode"`
	AssetScale int    `json:"assetScale"`
}

type incomingPayment struct {
	ID                  string          `json:"id"`
	URL                 string          `json:"url"`
	WalletAddressID     string          `json:"walletAddressId"`
	State               string          `json:"state"`
	ExpiresAt           string          `json:"expiresAt"`
	IncomingAmount      *amountOut      `json:"incomingAmount"`
	ReceivedAmount      amountOut       `json:"receivedAmount"`
	Liquidity           *string         `json:"liquidity"`
	Metadata            json.RawMessage `json:"metadata"`
	CreatedAt           string          `json:"createdAt"`
	SenderWalletAddress *string         `json:"senderWalletAddress"`
	CancellationReason  *string         `json:"cancellationReason"`
	CancelledAt         *string         `json:"cancelledAt"`
	Tenant              *tenantRef      `json:"tenant"`
}

type incomingPaymentPage struct {
	Payment    incomingPayment
	Metadata   string
	TransferID string
}

func (u *UI) showIncomingPayment(rq *request, status int, problems ...string) {
	var out struct {
		IncomingPayment *incomingPayment `json:"incomingPayment"`
	}
	q := `query($id: String!) { incomingPayment(id: $id) { id url walletAddressId state expiresAt
  incomingAmount { value assetCode assetScale } receivedAmount { value assetCode assetScale } liquidity
  metadata createdAt senderWalletAddress cancellationReason cancelledAt tenant { id } } }`
	if err := rq.gql(q, map[string]any{"id": rq.r.PathValue("id")}, &out); err != nil {
		rq.apiFailed(err)
		return
	}
	if out.IncomingPayment == nil {
		rq.notFound("The incoming payment")
		return
	}
	rq.render(status, "incoming_payment", "Incoming payment", incomingPaymentPage{
		Payment: *out.IncomingPayment, Metadata: indentJSON(out.IncomingPayment.Metadata), TransferID: newTransferID()}, problems...)
}

func (u *UI) incomingPayment(rq *request) { u.showIncomingPayment(rq, http.StatusOK) }

// withdrawIncomingPayment withdraws what a completed or expired incoming
// payment received, posted at once. Its idempotency key is rendered with
// the form, so a form posted twice withdraws once.
func (u *UI) withdrawIncomingPayment(rq *request) {
	id := rq.r.PathValue("id")
	key, err := rq.transferID()
	if err != nil {
		u.showIncomingPayment(rq, http.StatusUnprocessableEntity, err.Error())
		return
	}
	input := map[string]any{"incomingPaymentId": id, "idempotencyKey": key, "timeoutSeconds": "0"}
	if err := rq.gql(`mutation($input: CreateIncomingPaymentWithdrawalInput!) { createIncomingPaymentWithdrawal(input: $input) { success } }`,
		map[string]any{"input": input}, nil); err != nil {
		u.showIncomingPayment(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	rq.done("/payments/incoming/"+id, "withdrawn")
}

// indentJSON lays out a JSON value for reading; "" for none.
func indentJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// approveIncomingPayment approves a pending incoming payment, which the
// API allows once and only when it was not cancelled.
func (u *UI) approveIncomingPayment(rq *request) {
	id := rq.r.PathValue("id")
	if err := rq.gql(`mutation($input: ApproveIncomingPaymentInput!) { approveIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": map[string]any{"id": id}}, nil); err != nil {
		u.showIncomingPayment(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	rq.done("/payments/incoming/"+id, "payment-approved")
}

// cancelIncomingPayment cancels a pending incoming payment that was not
// approved, with an optional reason.
func (u *UI) cancelIncomingPayment(rq *request) {
	id := rq.r.PathValue("id")
	input := map[string]any{"id": id}
	if reason := rq.optionalString("cancellationReason"); reason != nil {
		input["cancellationReason"] = *reason
	}
	if err := rq.gql(`mutation($input: CancelIncomingPaymentInput!) { cancelIncomingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": input}, nil); err != nil {
		u.showIncomingPayment(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	rq.done("/payments/incoming/"+id, "payment-cancelled")
}
