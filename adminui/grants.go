package adminui

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// errNoAuthAPI is a grants page in a process that knows no auth admin API.
var errNoAuthAPI = errors.New("no auth admin API: set AUTH_GRAPHQL_URL")

type grantAccess struct {
	Type       string          `json:"type"`
	Identifier *string         `json:"identifier"`
	Actions    []string        `json:"actions"`
	Limits     json.RawMessage `json:"limits"`
}

type grant struct {
	ID                 string        `json:"id"`
	Client             *string       `json:"client"`
	State              string        `json:"state"`
	FinalizationReason *string       `json:"finalizationReason"`
	CreatedAt          string        `json:"createdAt"`
	TenantID           string        `json:"tenantId"`
	Access             []grantAccess `json:"access"`
	// LimitsJSON are each access's limits laid out for reading.
	LimitsJSON []string `json:"-"`
}

type grantList struct {
	Grants []grant
	Pager  pager
	State  string
	States []string
}

// grantStates are the states the filter offers, as the auth admin API
// names them.
var grantStates = []string{"PROCESSING", "PENDING", "APPROVED", "FINALIZED"}

// authGQL runs a query or mutation of the auth admin API (grants) as the
// signed-in tenant.
func (rq *request) authGQL(query string, vars map[string]any, out any) error {
	if rq.ui.authURL == "" {
		return errNoAuthAPI
	}
	c := rq.client()
	c.URL = rq.ui.authURL
	return c.Do(rq.r.Context(), query, vars, out)
}

const grantFields = `id client state finalizationReason createdAt tenantId access { type identifier actions limits { receiver debitAmount { value assetCode assetScale } receiveAmount { value assetCode assetScale } interval } }`

// grants lists the grants the signed-in tenant may see, newest first,
// filtered by state.
func (u *UI) grants(rq *request) {
	list := grantList{State: strings.TrimSpace(rq.r.URL.Query().Get("state")), States: grantStates}
	vars := pageVars(rq.r)
	if list.State != "" {
		vars["filter"] = map[string]any{"state": map[string]any{"in": []string{list.State}}}
	}
	var out struct {
		Grants struct {
			PageInfo pageInfo `json:"pageInfo"`
			Edges    []struct {
				Node grant `json:"node"`
			} `json:"edges"`
		} `json:"grants"`
	}
	q := `query($after: String, $before: String, $first: Int, $last: Int, $filter: GrantFilter) {
  grants(after: $after, before: $before, first: $first, last: $last, filter: $filter) { ` + pageInfoFields + `
    edges { node { ` + grantFields + ` } } } }`
	if err := rq.authGQL(q, vars, &out); err != nil {
		rq.render(http.StatusUnprocessableEntity, "grants", "Grants", list, u.grantProblem(err))
		return
	}
	list.Pager = newPager(rq.r, out.Grants.PageInfo)
	for _, e := range out.Grants.Edges {
		list.Grants = append(list.Grants, e.Node)
	}
	rq.render(http.StatusOK, "grants", "Grants", list)
}

// grantProblem says what went wrong with a call of the auth admin API.
func (u *UI) grantProblem(err error) string {
	if errors.Is(err, errNoAuthAPI) {
		return "This admin UI knows no auth admin API (AUTH_GRAPHQL_URL), where grants are."
	}
	return u.problem(err)
}

// grantPage shows one grant, and revokes it.
func (u *UI) grantPage(rq *request) {
	u.showGrant(rq, http.StatusOK)
}

func (u *UI) showGrant(rq *request, status int, problems ...string) {
	var out struct {
		Grant grant `json:"grant"`
	}
	if err := rq.authGQL(`query($id: ID!) { grant(id: $id) { `+grantFields+` } }`, map[string]any{"id": rq.r.PathValue("id")}, &out); err != nil {
		if errors.Is(err, errNoAuthAPI) {
			rq.render(http.StatusBadGateway, "error", "Error", nil, u.grantProblem(err))
			return
		}
		rq.apiFailed(err)
		return
	}
	g := out.Grant
	for _, a := range g.Access {
		if len(a.Limits) == 0 || string(a.Limits) == "null" {
			g.LimitsJSON = append(g.LimitsJSON, "")
			continue
		}
		g.LimitsJSON = append(g.LimitsJSON, indentJSON(a.Limits))
	}
	rq.render(status, "grant", "Grant", g, problems...)
}

// revokeGrant revokes a grant once the box is ticked.
func (u *UI) revokeGrant(rq *request) {
	id := rq.r.PathValue("id")
	if !rq.confirmed() {
		u.showGrant(rq, http.StatusUnprocessableEntity, notConfirmed)
		return
	}
	if err := rq.authGQL(`mutation($input: RevokeGrantInput!) { revokeGrant(input: $input) { id } }`,
		map[string]any{"input": map[string]any{"grantId": id}}, nil); err != nil {
		u.showGrant(rq, http.StatusUnprocessableEntity, u.grantProblem(err))
		return
	}
	rq.done("/grants/"+id, "grant-revoked")
}
