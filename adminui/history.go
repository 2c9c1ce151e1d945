package adminui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rafiki-go/rafiki/events"
)

// Audit reads an object's events from the event log, for its history
// tab. The UI reaches it only in a process connected to the log.
type Audit interface {
	// History is every event of the object with this id, in order.
	History(ctx context.Context, id string) ([]events.Envelope, error)
	// Redacted is an event's data with its secrets hidden.
	Redacted(env events.Envelope) string
	// StateAt folds the history up to a moment, secrets hidden.
	StateAt(history []events.Envelope, at time.Time) (any, error)
}

type historyEvent struct {
	Sequence uint64
	Time     string // RFC 3339, to the nanosecond
	Type     string
	TenantID string
	// By is who sent the command: a tenant's id, or the system's own work.
	By            string
	CausationID   string
	CorrelationID string
	Data          string
}

type historyPage struct {
	ID     string
	Back   string // the object's page
	Kind   string
	Events []historyEvent
	At     string // the moment asked for, as typed
	State  string // the object's state then, as JSON
}

// objectPages are the pages of the aggregates the UI shows, by type. An id
// may name two aggregates (an outgoing payment has its quote's id): the
// history is named after the one with a page.
var objectPages = map[string]string{
	"asset": "/assets/", "peer": "/peers/", "wallet_address": "/wallet-addresses/",
	"incoming_payment": "/payments/incoming/", "outgoing_payment": "/payments/outgoing/", "tenant": "/tenants/",
}

// history lists an object's events: when, what, for which tenant and by
// which command, with what each changed; with ?at= also the object's
// state at that moment, as `rafiki events <id> --at` prints it. The API
// first confirms the session (whoami); a tenant sees only its own
// objects' events, the operator every tenant's.
func (u *UI) history(rq *request) {
	id := rq.r.PathValue("id")
	if u.audit == nil {
		rq.render(http.StatusNotFound, "error", "History", nil,
			"This admin UI process is not connected to the event log (NATS_URL), so it cannot show histories.")
		return
	}
	var who struct {
		Whoami struct {
			ID         string `json:"id"`
			IsOperator bool   `json:"isOperator"`
		} `json:"whoami"`
	}
	if err := rq.gql(`query { whoami { id isOperator } }`, nil, &who); err != nil {
		rq.apiFailed(err)
		return
	}
	all, err := u.audit.History(rq.r.Context(), id)
	if err != nil {
		rq.render(http.StatusBadRequest, "error", "History", nil, "The history could not be read: "+err.Error())
		return
	}
	var history []events.Envelope
	for _, env := range all {
		if who.Whoami.IsOperator || env.TenantID == who.Whoami.ID {
			history = append(history, env)
		}
	}
	if len(history) == 0 {
		rq.notFound("The object's history")
		return
	}
	kind := history[0].AggregateType
	for _, env := range history {
		if _, ok := objectPages[env.AggregateType]; ok {
			kind = env.AggregateType
			break
		}
	}
	page := historyPage{ID: id, Kind: strings.ReplaceAll(kind, "_", " ")}
	if prefix, ok := objectPages[kind]; ok {
		page.Back = prefix + id
	}
	for _, env := range history {
		page.Events = append(page.Events, historyEvent{Sequence: env.Sequence, Time: env.Time.UTC().Format(time.RFC3339Nano),
			Type: env.Type, TenantID: env.TenantID, By: env.Actor, CausationID: env.CausationID, CorrelationID: env.CorrelationID,
			Data: indentJSON(json.RawMessage(u.audit.Redacted(env)))})
	}
	var problems []string
	if page.At = strings.TrimSpace(rq.r.URL.Query().Get("at")); page.At != "" {
		at, err := time.Parse(time.RFC3339Nano, page.At)
		if err != nil {
			problems = append(problems, "Moment: write it as 2026-12-05T10:00:00Z (RFC 3339).")
		} else if state, err := u.audit.StateAt(history, at); err != nil {
			problems = append(problems, "The state could not be folded: "+err.Error())
		} else if raw, err := json.Marshal(state); err != nil {
			problems = append(problems, "The state could not be shown: "+err.Error())
		} else {
			page.State = indentJSON(raw)
		}
	}
	status := http.StatusOK
	if problems != nil {
		status = http.StatusUnprocessableEntity
	}
	rq.render(status, "history", "History of "+page.Kind+" "+id, page, problems...)
}

// findHistory sends the lookup form on the overview to the history of the
// id typed, whatever the object (a grant or a quote has no page of its
// own here).
func (u *UI) findHistory(rq *request) {
	id := strings.TrimSpace(rq.r.URL.Query().Get("id"))
	if id == "" {
		http.Redirect(rq.w, rq.r, "/", http.StatusSeeOther)
		return
	}
	http.Redirect(rq.w, rq.r, "/history/"+url.PathEscape(id), http.StatusSeeOther)
}
