package adminui

import "net/http"

type walletAddress struct {
	ID                   string     `json:"id"`
	Address              string     `json:"address"`
	PublicName           *string    `json:"publicName"`
	Status               string     `json:"status"`
	Liquidity            *string    `json:"liquidity"`
	CreatedAt            string     `json:"createdAt"`
	Asset                asset      `json:"asset"`
	Tenant               *tenantRef `json:"tenant"`
	AdditionalProperties []*struct {
		Key                   string `json:"key"`
		Value                 string `json:"value"`
		VisibleInOpenPayments bool   `json:"visibleInOpenPayments"`
	} `json:"additionalProperties"`
}

const walletAddressFields = `id address publicName status liquidity createdAt asset { id code scale } tenant { id }`

type walletAddressList struct {
	WalletAddresses []walletAddress
	Pager           pager
}

func (u *UI) walletAddresses(rq *request) {
	var out struct {
		WalletAddresses struct {
			PageInfo pageInfo `json:"pageInfo"`
			Edges    []struct {
				Node walletAddress `json:"node"`
			} `json:"edges"`
		} `json:"walletAddresses"`
	}
	q := `query($after: String, $before: String, $first: Int, $last: Int) {
  walletAddresses(after: $after, before: $before, first: $first, last: $last) { ` + pageInfoFields + ` edges { node { ` + walletAddressFields + ` } } } }`
	if err := rq.gql(q, pageVars(rq.r), &out); err != nil {
		rq.apiFailed(err)
		return
	}
	list := walletAddressList{Pager: newPager(rq.r, out.WalletAddresses.PageInfo)}
	for _, e := range out.WalletAddresses.Edges {
		list.WalletAddresses = append(list.WalletAddresses, e.Node)
	}
	rq.render(http.StatusOK, "wallet_addresses", "Wallet addresses", list)
}

type newWalletAddressPage struct{ Assets []asset }

func (u *UI) newWalletAddress(rq *request) { u.showNewWalletAddress(rq, http.StatusOK) }

func (u *UI) showNewWalletAddress(rq *request, status int, problems ...string) {
	assets, err := rq.assetChoices()
	if err != nil {
		rq.apiFailed(err)
		return
	}
	rq.render(status, "wallet_address_new", "New wallet address", newWalletAddressPage{Assets: assets}, problems...)
}

func (u *UI) createWalletAddress(rq *request) {
	input := map[string]any{"assetId": rq.field("assetId"), "address": rq.field("address")}
	if name := rq.optionalString("publicName"); name != nil {
		input["publicName"] = *name
	}
	if t := rq.field("tenantId"); t != "" && rq.sess.Operator {
		input["tenantId"] = t
	}
	var out struct {
		CreateWalletAddress struct {
			WalletAddress *walletAddress `json:"walletAddress"`
		} `json:"createWalletAddress"`
	}
	if err := rq.gql(`mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id } } }`,
		map[string]any{"input": input}, &out); err != nil {
		u.showNewWalletAddress(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	if out.CreateWalletAddress.WalletAddress == nil {
		u.showNewWalletAddress(rq, http.StatusBadGateway, noObjectMessage)
		return
	}
	rq.done("/wallet-addresses/"+out.CreateWalletAddress.WalletAddress.ID, "wallet-created")
}

type walletAddressPage struct {
	WalletAddress walletAddress
	// Outgoing is a page of its outgoing payments, newest first.
	Outgoing []outgoingPayment
	Pager    pager
	// TransferID is the withdrawal form's; SendKey and RequestKey are the
	// idempotency keys of the forms that make payments, so that a form
	// posted twice makes one payment.
	TransferID, SendKey, RequestKey string
}

func (u *UI) showWalletAddress(rq *request, status int, problems ...string) {
	var out struct {
		WalletAddress *struct {
			walletAddress
			OutgoingPayments *struct {
				PageInfo pageInfo `json:"pageInfo"`
				Edges    []struct {
					Node outgoingPayment `json:"node"`
				} `json:"edges"`
			} `json:"outgoingPayments"`
		} `json:"walletAddress"`
	}
	q := `query($id: String!, $after: String, $before: String, $first: Int, $last: Int) { walletAddress(id: $id) { ` + walletAddressFields + `
  additionalProperties { key value visibleInOpenPayments }
  outgoingPayments(after: $after, before: $before, first: $first, last: $last) { ` + pageInfoFields + ` edges { node { ` + outgoingPaymentListFields + ` } } } } }`
	vars := pageVars(rq.r)
	vars["id"] = rq.r.PathValue("id")
	if err := rq.gql(q, vars, &out); err != nil {
		rq.apiFailed(err)
		return
	}
	if out.WalletAddress == nil {
		rq.notFound("The wallet address")
		return
	}
	page := walletAddressPage{WalletAddress: out.WalletAddress.walletAddress,
		TransferID: newTransferID(), SendKey: newTransferID(), RequestKey: newTransferID()}
	if o := out.WalletAddress.OutgoingPayments; o != nil {
		page.Pager = pagerAt("/wallet-addresses/"+page.WalletAddress.ID, rq.r.URL.Query(), o.PageInfo)
		for _, e := range o.Edges {
			page.Outgoing = append(page.Outgoing, e.Node)
		}
	}
	rq.render(status, "wallet_address", "Wallet address "+page.WalletAddress.Address, page, problems...)
}

func (u *UI) walletAddress(rq *request) { u.showWalletAddress(rq, http.StatusOK) }

func (u *UI) updateWalletAddress(rq *request) {
	id := rq.r.PathValue("id")
	status := rq.field("status")
	if status != "ACTIVE" && status != "INACTIVE" {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, "Status: choose active or inactive.")
		return
	}
	input := map[string]any{"id": id, "publicName": rq.field("publicName"), "status": status}
	if err := rq.gql(`mutation($input: UpdateWalletAddressInput!) { updateWalletAddress(input: $input) { walletAddress { id } } }`,
		map[string]any{"input": input}, nil); err != nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	rq.done("/wallet-addresses/"+id, "wallet-updated")
}

// withdrawWalletAddress withdraws the wallet address's whole balance,
// posted at once.
func (u *UI) withdrawWalletAddress(rq *request) {
	id := rq.r.PathValue("id")
	transferID, err := rq.transferID()
	if err != nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, err.Error())
		return
	}
	input := map[string]any{"walletAddressId": id, "id": transferID, "idempotencyKey": transferID, "timeoutSeconds": "0"}
	var out struct {
		CreateWalletAddressWithdrawal *struct {
			Withdrawal *struct {
				Amount string `json:"amount"`
			} `json:"withdrawal"`
		} `json:"createWalletAddressWithdrawal"`
	}
	if err := rq.gql(`mutation($input: CreateWalletAddressWithdrawalInput!) { createWalletAddressWithdrawal(input: $input) { withdrawal { amount } } }`,
		map[string]any{"input": input}, &out); err != nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	if out.CreateWalletAddressWithdrawal == nil || out.CreateWalletAddressWithdrawal.Withdrawal == nil {
		u.showWalletAddress(rq, http.StatusUnprocessableEntity, "The admin API withdrew nothing.")
		return
	}
	rq.done("/wallet-addresses/"+id, "withdrawn")
}
