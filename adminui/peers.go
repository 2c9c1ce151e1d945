package adminui

import (
	"net/http"
	"strings"
)

type peer struct {
	ID                 string     `json:"id"`
	Name               *string    `json:"name"`
	StaticIlpAddress   string     `json:"staticIlpAddress"`
	MaxPacketAmount    *string    `json:"maxPacketAmount"`
	Liquidity          *string    `json:"liquidity"`
	LiquidityThreshold *string    `json:"liquidityThreshold"`
	CreatedAt          string     `json:"createdAt"`
	Routes             []string   `json:"routes"`
	Asset              asset      `json:"asset"`
	Tenant             *tenantRef `json:"tenant"`
	HTTP               struct {
		Outgoing struct {
			AuthToken string `json:"authToken"`
			Endpoint  string `json:"endpoint"`
		} `json:"outgoing"`
	} `json:"http"`
}

const peerFields = `id name staticIlpAddress maxPacketAmount liquidity liquidityThreshold createdAt routes
  asset { id code scale } tenant { id } http { outgoing { authToken endpoint } }`

type peerList struct {
	Peers []peer
	Pager pager
}

func (u *UI) peers(rq *request) {
	var out struct {
		Peers struct {
			PageInfo pageInfo `json:"pageInfo"`
			Edges    []struct {
				Node peer `json:"node"`
			} `json:"edges"`
		} `json:"peers"`
	}
	q := `query($after: String, $before: String, $first: Int, $last: Int) {
  peers(after: $after, before: $before, first: $first, last: $last) { ` + pageInfoFields + ` edges { node { ` + peerFields + ` } } } }`
	if err := rq.gql(q, pageVars(rq.r), &out); err != nil {
		rq.apiFailed(err)
		return
	}
	list := peerList{Pager: newPager(rq.r, out.Peers.PageInfo)}
	for _, e := range out.Peers.Edges {
		list.Peers = append(list.Peers, e.Node)
	}
	rq.render(http.StatusOK, "peers", "Peers", list)
}

// assetChoices are the assets a create form offers (the first 100, the
// API's largest page).
func (rq *request) assetChoices() ([]asset, error) {
	var out struct {
		Assets struct {
			Edges []struct {
				Node asset `json:"node"`
			} `json:"edges"`
		} `json:"assets"`
	}
	if err := rq.gql(`query { assets(first: 100) { edges { node { id code scale tenant { id } } } } }`, nil, &out); err != nil {
		return nil, err
	}
	var assets []asset
	for _, e := range out.Assets.Edges {
		assets = append(assets, e.Node)
	}
	return assets, nil
}

type newPeerPage struct{ Assets []asset }

func (u *UI) newPeer(rq *request) { u.showNewPeer(rq, http.StatusOK) }

func (u *UI) showNewPeer(rq *request, status int, problems ...string) {
	assets, err := rq.assetChoices()
	if err != nil {
		rq.apiFailed(err)
		return
	}
	rq.render(status, "peer_new", "New peer", newPeerPage{Assets: assets}, problems...)
}

// lines splits a text area into its non-empty lines.
func lines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// peerAmounts reads a peer form's amounts at the asset's scale into input.
func (rq *request) peerAmounts(input map[string]any, scale int, names ...string) error {
	labels := map[string]string{"maxPacketAmount": "Maximum packet amount", "liquidityThreshold": "Liquidity threshold", "initialLiquidity": "Initial liquidity"}
	for _, name := range names {
		v, err := rq.optionalAmount(name, labels[name], scale)
		if err != nil {
			return err
		}
		if v != nil {
			input[name] = *v
		}
	}
	return nil
}

func (u *UI) createPeer(rq *request) {
	fail := func(msg string) { u.showNewPeer(rq, http.StatusUnprocessableEntity, msg) }
	assetID := rq.field("assetId")
	scale, err := rq.assetScale(assetID)
	if err != nil {
		fail("Asset: " + u.problem(err))
		return
	}
	httpIn := map[string]any{"outgoing": map[string]any{"authToken": rq.field("outgoingAuthToken"), "endpoint": rq.field("outgoingEndpoint")}}
	if tokens := lines(rq.r.PostFormValue("incomingAuthTokens")); len(tokens) > 0 {
		httpIn["incoming"] = map[string]any{"authTokens": tokens}
	}
	input := map[string]any{"assetId": assetID, "staticIlpAddress": rq.field("staticIlpAddress"), "http": httpIn}
	if name := rq.optionalString("name"); name != nil {
		input["name"] = *name
	}
	if routes := lines(rq.r.PostFormValue("routes")); len(routes) > 0 {
		input["routes"] = routes
	}
	if err := rq.peerAmounts(input, scale, "maxPacketAmount", "liquidityThreshold", "initialLiquidity"); err != nil {
		fail(err.Error())
		return
	}
	var out struct {
		CreatePeer struct {
			Peer *peer `json:"peer"`
		} `json:"createPeer"`
	}
	if err := rq.gql(`mutation($input: CreatePeerInput!) { createPeer(input: $input) { peer { id } } }`,
		map[string]any{"input": input}, &out); err != nil {
		fail(u.problem(err))
		return
	}
	if out.CreatePeer.Peer == nil {
		fail(noObjectMessage)
		return
	}
	rq.done("/peers/"+out.CreatePeer.Peer.ID, "peer-created")
}

type peerPage struct {
	Peer        peer
	ExtraRoutes string // routes besides the peer's own address, one a line
	TransferID  string
}

// loadPeer reads the peer the URL names.
func (rq *request) loadPeer() (*peer, error) {
	var out struct {
		Peer *peer `json:"peer"`
	}
	if err := rq.gql(`query($id: String!) { peer(id: $id) { `+peerFields+` } }`, map[string]any{"id": rq.r.PathValue("id")}, &out); err != nil {
		return nil, err
	}
	if out.Peer == nil {
		return nil, errNotFound
	}
	return out.Peer, nil
}

func (u *UI) showPeer(rq *request, status int, problems ...string) {
	p, err := rq.loadPeer()
	if err == errNotFound {
		rq.notFound("The peer")
		return
	}
	if err != nil {
		rq.apiFailed(err)
		return
	}
	title := "Peer " + p.StaticIlpAddress
	var extra []string
	for _, r := range p.Routes {
		if r != p.StaticIlpAddress {
			extra = append(extra, r)
		}
	}
	rq.render(status, "peer", title, peerPage{Peer: *p, ExtraRoutes: strings.Join(extra, "\n"), TransferID: newTransferID()}, problems...)
}

func (u *UI) peer(rq *request) { u.showPeer(rq, http.StatusOK) }

func (u *UI) updatePeer(rq *request) {
	fail := func(msg string) { u.showPeer(rq, http.StatusUnprocessableEntity, msg) }
	p, err := rq.loadPeer()
	if err != nil {
		fail(u.problem(err))
		return
	}
	// The API replaces the outgoing settings as a whole: an empty token
	// field keeps the token the peer has, which the page never shows.
	token := rq.field("outgoingAuthToken")
	if token == "" {
		token = p.HTTP.Outgoing.AuthToken
	}
	httpIn := map[string]any{"outgoing": map[string]any{"authToken": token, "endpoint": rq.field("outgoingEndpoint")}}
	if tokens := lines(rq.r.PostFormValue("incomingAuthTokens")); len(tokens) > 0 {
		httpIn["incoming"] = map[string]any{"authTokens": tokens}
	}
	// An empty list of routes clears the extra routes (null would keep them).
	routes := lines(rq.r.PostFormValue("routes"))
	if routes == nil {
		routes = []string{}
	}
	input := map[string]any{"id": p.ID, "staticIlpAddress": rq.field("staticIlpAddress"), "http": httpIn,
		"name": rq.field("name"), "routes": routes}
	if err := rq.peerAmounts(input, p.Asset.Scale, "maxPacketAmount", "liquidityThreshold"); err != nil {
		fail(err.Error())
		return
	}
	if err := rq.gql(`mutation($input: UpdatePeerInput!) { updatePeer(input: $input) { peer { id } } }`,
		map[string]any{"input": input}, nil); err != nil {
		fail(u.problem(err))
		return
	}
	rq.done("/peers/"+p.ID, "peer-updated")
}

func (u *UI) deletePeer(rq *request) {
	id := rq.r.PathValue("id")
	if !rq.confirmed() {
		u.showPeer(rq, http.StatusUnprocessableEntity, notConfirmed)
		return
	}
	if err := rq.gql(`mutation($input: DeletePeerInput!) { deletePeer(input: $input) { success } }`,
		map[string]any{"input": map[string]any{"id": id}}, nil); err != nil {
		u.showPeer(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	rq.done("/peers", "peer-deleted")
}

func (u *UI) peerLiquidity(deposit bool) func(*request) {
	return func(rq *request) {
		p, err := rq.loadPeer()
		if err != nil {
			u.showPeer(rq, http.StatusUnprocessableEntity, u.problem(err))
			return
		}
		if err := rq.moveLiquidity(deposit, "Peer", "peerId", p.ID, p.Asset.Scale); err != nil {
			u.showPeer(rq, http.StatusUnprocessableEntity, err.Error())
			return
		}
		rq.done("/peers/"+p.ID, doneKey(deposit))
	}
}
