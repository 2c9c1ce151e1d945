package adminui

import (
	"encoding/json"
	"net/http"
	"strings"
)

type webhookEvent struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	CreatedAt string          `json:"createdAt"`
	Tenant    *tenantRef      `json:"tenant"`
	// JSON is Data laid out for reading.
	JSON string `json:"-"`
}

type webhookEventList struct {
	Events []webhookEvent
	Pager  pager
	Type   string
	Types  []string
}

// webhookEventTypes are the types the filter offers; any other may be
// typed.
var webhookEventTypes = []string{
	"incoming_payment.created", "incoming_payment.completed", "incoming_payment.expired", "incoming_payment.partial_payment_received",
	"outgoing_payment.created", "outgoing_payment.completed", "outgoing_payment.failed",
	"wallet_address.not_found", "wallet_address.web_monetization", "asset.liquidity_low", "peer.liquidity_low",
}

func (u *UI) webhookEvents(rq *request) {
	list := webhookEventList{Type: strings.TrimSpace(rq.r.URL.Query().Get("type")), Types: webhookEventTypes}
	vars := pageVars(rq.r)
	if list.Type != "" {
		vars["filter"] = map[string]any{"type": map[string]any{"in": []string{list.Type}}}
	}
	var out struct {
		WebhookEvents struct {
			PageInfo pageInfo `json:"pageInfo"`
			Edges    []struct {
				Node webhookEvent `json:"node"`
			} `json:"edges"`
		} `json:"webhookEvents"`
	}
	q := `query($after: String, $before: String, $first: Int, $last: Int, $filter: WebhookEventFilter) {
  webhookEvents(after: $after, before: $before, first: $first, last: $last, filter: $filter) { ` + pageInfoFields + `
    edges { node { id type data createdAt tenant { id } } } } }`
	if err := rq.gql(q, vars, &out); err != nil {
		rq.render(http.StatusUnprocessableEntity, "webhook_events", "Webhook events", list, u.problem(err))
		return
	}
	list.Pager = newPager(rq.r, out.WebhookEvents.PageInfo)
	for _, e := range out.WebhookEvents.Edges {
		e.Node.JSON = indentJSON(e.Node.Data)
		list.Events = append(list.Events, e.Node)
	}
	rq.render(http.StatusOK, "webhook_events", "Webhook events", list)
}
