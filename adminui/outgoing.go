package adminui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

type quoteOut struct {
	ID                    string    `json:"id"`
	DebitAmount           amountOut `json:"debitAmount"`
	ReceiveAmount         amountOut `json:"receiveAmount"`
	CreatedAt             string    `json:"createdAt"`
	ExpiresAt             string    `json:"expiresAt"`
	EstimatedExchangeRate *float64  `json:"estimatedExchangeRate"`
}

type outgoingPayment struct {
	ID              string          `json:"id"`
	WalletAddressID string          `json:"walletAddressId"`
	Client          *string         `json:"client"`
	Liquidity       *string         `json:"liquidity"`
	State           string          `json:"state"`
	Error           *string         `json:"error"`
	StateAttempts   int             `json:"stateAttempts"`
	DebitAmount     amountOut       `json:"debitAmount"`
	ReceiveAmount   amountOut       `json:"receiveAmount"`
	SentAmount      amountOut       `json:"sentAmount"`
	Receiver        string          `json:"receiver"`
	Metadata        json.RawMessage `json:"metadata"`
	Quote           *quoteOut       `json:"quote"`
	CreatedAt       string          `json:"createdAt"`
	GrantID         *string         `json:"grantId"`
	Tenant          *tenantRef      `json:"tenant"`
}

const amountFields = `{ value assetCode assetScale }`

// outgoingPaymentListFields are what a list of outgoing payments shows.
const outgoingPaymentListFields = `id state debitAmount ` + amountFields + ` receiveAmount ` + amountFields + ` receiver createdAt`

type outgoingPaymentPage struct {
	Payment  outgoingPayment
	Metadata string
	// Rate is the quote's estimated exchange rate, "" when it has none.
	Rate string
	// Key is the idempotency key the page's liquidity form carries: one
	// per rendering, so a form posted twice moves money once.
	Key string
	// Data is the data for the receiver typed in the deposit form, kept
	// when the API refused it.
	Data string
}

func (u *UI) showOutgoingPayment(rq *request, status int, problems ...string) {
	var out struct {
		OutgoingPayment *outgoingPayment `json:"outgoingPayment"`
	}
	q := `query($id: String!) { outgoingPayment(id: $id) { id walletAddressId client liquidity state error stateAttempts
  debitAmount ` + amountFields + ` receiveAmount ` + amountFields + ` sentAmount ` + amountFields + ` receiver metadata
  quote { id createdAt expiresAt estimatedExchangeRate debitAmount ` + amountFields + ` receiveAmount ` + amountFields + ` }
  createdAt grantId tenant { id } } }`
	if err := rq.gql(q, map[string]any{"id": rq.r.PathValue("id")}, &out); err != nil {
		rq.apiFailed(err)
		return
	}
	if out.OutgoingPayment == nil {
		rq.notFound("The outgoing payment")
		return
	}
	page := outgoingPaymentPage{Payment: *out.OutgoingPayment, Metadata: indentJSON(out.OutgoingPayment.Metadata), Key: newTransferID(),
		Data: rq.r.PostFormValue("dataToTransmit")}
	if q := page.Payment.Quote; q != nil && q.EstimatedExchangeRate != nil {
		page.Rate = strconv.FormatFloat(*q.EstimatedExchangeRate, 'g', -1, 64)
	}
	rq.render(status, "outgoing_payment", "Outgoing payment", page, problems...)
}

func (u *UI) outgoingPayment(rq *request) { u.showOutgoingPayment(rq, http.StatusOK) }

// depositOutgoingPayment funds a payment waiting for it: the API deposits
// exactly its debit amount, then sends it.
func (u *UI) depositOutgoingPayment(rq *request) {
	id := rq.r.PathValue("id")
	key, err := rq.transferID()
	if err != nil {
		u.showOutgoingPayment(rq, http.StatusUnprocessableEntity, err.Error())
		return
	}
	input := map[string]any{"outgoingPaymentId": id, "idempotencyKey": key}
	if data := rq.r.PostFormValue("dataToTransmit"); data != "" {
		input["dataToTransmit"] = data
	}
	var out struct {
		DepositOutgoingPaymentLiquidity *struct {
			Success bool `json:"success"`
		} `json:"depositOutgoingPaymentLiquidity"`
	}
	if err := rq.gql(`mutation($input: DepositOutgoingPaymentLiquidityInput!) { depositOutgoingPaymentLiquidity(input: $input) { success } }`,
		map[string]any{"input": input}, &out); err != nil {
		u.showOutgoingPayment(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	if out.DepositOutgoingPaymentLiquidity == nil || !out.DepositOutgoingPaymentLiquidity.Success {
		u.showOutgoingPayment(rq, http.StatusUnprocessableEntity, "The admin API did not deposit the liquidity.")
		return
	}
	rq.done("/payments/outgoing/"+id, "payment-funded")
}

// withdrawOutgoingPayment withdraws what a completed or failed payment
// still holds (its fee, what it did not send), pending for the seconds
// typed (0 posts it at once).
func (u *UI) withdrawOutgoingPayment(rq *request) {
	id := rq.r.PathValue("id")
	key, err := rq.transferID()
	if err != nil {
		u.showOutgoingPayment(rq, http.StatusUnprocessableEntity, err.Error())
		return
	}
	timeout := rq.field("timeoutSeconds")
	if timeout == "" {
		timeout = "0"
	}
	if _, err := strconv.ParseUint(timeout, 10, 64); err != nil {
		u.showOutgoingPayment(rq, http.StatusUnprocessableEntity, fmt.Sprintf("Timeout: %q is not a whole number of seconds.", timeout))
		return
	}
	input := map[string]any{"outgoingPaymentId": id, "idempotencyKey": key, "timeoutSeconds": timeout}
	var out struct {
		CreateOutgoingPaymentWithdrawal *struct {
			Success bool `json:"success"`
		} `json:"createOutgoingPaymentWithdrawal"`
	}
	if err := rq.gql(`mutation($input: CreateOutgoingPaymentWithdrawalInput!) { createOutgoingPaymentWithdrawal(input: $input) { success } }`,
		map[string]any{"input": input}, &out); err != nil {
		u.showOutgoingPayment(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	if out.CreateOutgoingPaymentWithdrawal == nil || !out.CreateOutgoingPaymentWithdrawal.Success {
		u.showOutgoingPayment(rq, http.StatusUnprocessableEntity, "The admin API withdrew nothing.")
		return
	}
	rq.done("/payments/outgoing/"+id, "withdrawn")
}

// cancelOutgoingPayment gives up a payment that was not funded, with an
// optional reason the API keeps in its metadata.
func (u *UI) cancelOutgoingPayment(rq *request) {
	id := rq.r.PathValue("id")
	input := map[string]any{"id": id}
	if reason := rq.optionalString("reason"); reason != nil {
		input["reason"] = *reason
	}
	if err := rq.gql(`mutation($input: CancelOutgoingPaymentInput!) { cancelOutgoingPayment(input: $input) { payment { id } } }`,
		map[string]any{"input": input}, nil); err != nil {
		u.showOutgoingPayment(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	rq.done("/payments/outgoing/"+id, "payment-cancelled")
}
