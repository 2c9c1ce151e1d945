package adminui

import (
	"net/http"
	"strconv"
	"strings"
)

type fee struct {
	Type        string `json:"type"`
	Fixed       string `json:"fixed"`
	BasisPoints int    `json:"basisPoints"`
	CreatedAt   string `json:"createdAt"`
}

type tenantRef struct {
	ID string `json:"id"`
}

type asset struct {
	ID                  string     `json:"id"`
	Code                string     `json:"code"`
	Scale               int        `json:"scale"`
	Liquidity           *string    `json:"liquidity"`
	WithdrawalThreshold *string    `json:"withdrawalThreshold"`
	LiquidityThreshold  *string    `json:"liquidityThreshold"`
	CreatedAt           string     `json:"createdAt"`
	Tenant              *tenantRef `json:"tenant"`
	SendingFee          *fee       `json:"sendingFee"`
	ReceivingFee        *fee       `json:"receivingFee"`
	Fees                *struct {
		Edges []struct {
			Node fee `json:"node"`
		} `json:"edges"`
	} `json:"fees"`
}

const assetListFields = `id code scale liquidity withdrawalThreshold liquidityThreshold createdAt tenant { id }`

type assetList struct {
	Assets []asset
	Pager  pager
}

func (u *UI) assets(rq *request) {
	var out struct {
		Assets struct {
			PageInfo pageInfo `json:"pageInfo"`
			Edges    []struct {
				Node asset `json:"node"`
			} `json:"edges"`
		} `json:"assets"`
	}
	q := `query($after: String, $before: String, $first: Int, $last: Int) {
  assets(after: $after, before: $before, first: $first, last: $last) { ` + pageInfoFields + ` edges { node { ` + assetListFields + ` } } } }`
	if err := rq.gql(q, pageVars(rq.r), &out); err != nil {
		rq.apiFailed(err)
		return
	}
	list := assetList{Pager: newPager(rq.r, out.Assets.PageInfo)}
	for _, e := range out.Assets.Edges {
		list.Assets = append(list.Assets, e.Node)
	}
	rq.render(http.StatusOK, "assets", "Assets", list)
}

func (u *UI) newAsset(rq *request) {
	rq.render(http.StatusOK, "asset_new", "New asset", nil)
}

func (u *UI) createAsset(rq *request) {
	fail := func(msg string) { rq.render(http.StatusUnprocessableEntity, "asset_new", "New asset", nil, msg) }
	scale, err := scaleOf(rq.field("scale"))
	if err != nil {
		fail(err.Error())
		return
	}
	input := map[string]any{"code": rq.field("code"), "scale": scale}
	for _, f := range []struct{ name, label string }{{"withdrawalThreshold", "Withdrawal threshold"}, {"liquidityThreshold", "Liquidity threshold"}} {
		v, err := rq.optionalAmount(f.name, f.label, scale)
		if err != nil {
			fail(err.Error())
			return
		}
		if v != nil {
			input[f.name] = *v
		}
	}
	if t := rq.field("tenantId"); t != "" && rq.sess.Operator {
		input["tenantId"] = t
	}
	var out struct {
		CreateAsset struct {
			Asset *asset `json:"asset"`
		} `json:"createAsset"`
	}
	if err := rq.gql(`mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }`,
		map[string]any{"input": input}, &out); err != nil {
		fail(u.problem(err))
		return
	}
	if out.CreateAsset.Asset == nil {
		fail(noObjectMessage)
		return
	}
	rq.done("/assets/"+out.CreateAsset.Asset.ID, "asset-created")
}

type assetPage struct {
	Asset      asset
	TransferID string
}

// showAsset renders an asset's page, with problems from a form posted on it.
func (u *UI) showAsset(rq *request, status int, problems ...string) {
	var out struct {
		Asset *asset `json:"asset"`
	}
	q := `query($id: String!) { asset(id: $id) { ` + assetListFields + `
  sendingFee { type fixed basisPoints createdAt } receivingFee { type fixed basisPoints createdAt }
  fees(first: 20) { edges { node { type fixed basisPoints createdAt } } } } }`
	if err := rq.gql(q, map[string]any{"id": rq.r.PathValue("id")}, &out); err != nil {
		rq.apiFailed(err)
		return
	}
	if out.Asset == nil {
		rq.notFound("The asset")
		return
	}
	rq.render(status, "asset", "Asset "+out.Asset.Code, assetPage{Asset: *out.Asset, TransferID: newTransferID()}, problems...)
}

func (u *UI) asset(rq *request) { u.showAsset(rq, http.StatusOK) }

// assetScale reads the scale of the asset of the page a form was posted on.
func (rq *request) assetScale(id string) (int, error) {
	var out struct {
		Asset *asset `json:"asset"`
	}
	if err := rq.gql(`query($id: String!) { asset(id: $id) { scale } }`, map[string]any{"id": id}, &out); err != nil {
		return 0, err
	}
	if out.Asset == nil {
		return 0, errNotFound
	}
	return out.Asset.Scale, nil
}

func (u *UI) updateAsset(rq *request) {
	id := rq.r.PathValue("id")
	scale, err := rq.assetScale(id)
	if err != nil {
		u.showAsset(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	input := map[string]any{"id": id}
	for _, f := range []struct{ name, label string }{{"withdrawalThreshold", "Withdrawal threshold"}, {"liquidityThreshold", "Liquidity threshold"}} {
		v, err := rq.optionalAmount(f.name, f.label, scale)
		if err != nil {
			u.showAsset(rq, http.StatusUnprocessableEntity, err.Error())
			return
		}
		if v != nil {
			input[f.name] = *v
		}
	}
	if err := rq.gql(`mutation($input: UpdateAssetInput!) { updateAsset(input: $input) { asset { id } } }`,
		map[string]any{"input": input}, nil); err != nil {
		u.showAsset(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	rq.done("/assets/"+id, "asset-updated")
}

func (u *UI) setFee(rq *request) {
	id := rq.r.PathValue("id")
	scale, err := rq.assetScale(id)
	if err != nil {
		u.showAsset(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	feeType := rq.field("type")
	if feeType != "SENDING" && feeType != "RECEIVING" {
		u.showAsset(rq, http.StatusUnprocessableEntity, "Fee type: choose sending or receiving.")
		return
	}
	fixed := "0"
	if v, err := rq.optionalAmount("fixed", "Fixed fee", scale); err != nil {
		u.showAsset(rq, http.StatusUnprocessableEntity, err.Error())
		return
	} else if v != nil {
		fixed = *v
	}
	bp, err := strconv.Atoi(strings.TrimSpace(rq.field("basisPoints")))
	if err != nil {
		u.showAsset(rq, http.StatusUnprocessableEntity, "Basis points: enter a whole number from 0 to 10000.")
		return
	}
	input := map[string]any{"assetId": id, "type": feeType, "fee": map[string]any{"fixed": fixed, "basisPoints": bp}}
	if err := rq.gql(`mutation($input: SetFeeInput!) { setFee(input: $input) { fee { id } } }`,
		map[string]any{"input": input}, nil); err != nil {
		u.showAsset(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	rq.done("/assets/"+id, "fee-set")
}

func (u *UI) assetLiquidity(deposit bool) func(*request) {
	return func(rq *request) {
		id := rq.r.PathValue("id")
		scale, err := rq.assetScale(id)
		if err != nil {
			u.showAsset(rq, http.StatusUnprocessableEntity, u.problem(err))
			return
		}
		if err := rq.moveLiquidity(deposit, "Asset", "assetId", id, scale); err != nil {
			u.showAsset(rq, http.StatusUnprocessableEntity, err.Error())
			return
		}
		rq.done("/assets/"+id, doneKey(deposit))
	}
}

func (u *UI) deleteAsset(rq *request) {
	id := rq.r.PathValue("id")
	if !rq.confirmed() {
		u.showAsset(rq, http.StatusUnprocessableEntity, notConfirmed)
		return
	}
	if err := rq.gql(`mutation($input: DeleteAssetInput!) { deleteAsset(input: $input) { asset { id } } }`,
		map[string]any{"input": map[string]any{"id": id}}, nil); err != nil {
		u.showAsset(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	rq.done("/assets", "asset-deleted")
}
