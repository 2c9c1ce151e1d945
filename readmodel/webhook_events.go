package readmodel

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// WebhookEvent is a webhook event as the webhooks read model holds it.
type WebhookEvent struct {
	ID        string
	TenantID  string
	Type      string
	Data      json.RawMessage
	CreatedAt time.Time
}

// WebhookEventFilter narrows the list of webhook events; empty fields do
// not.
type WebhookEventFilter struct {
	TenantScope       *string
	TypeIn, TypeNotIn []string
}

const webhookEventColumns = `id::text, tenant_id::text, type, data, created_at`

func scanWebhookEvent(row pgx.Row) (WebhookEvent, string, error) {
	var e WebhookEvent
	var data []byte
	err := row.Scan(&e.ID, &e.TenantID, &e.Type, &data, &e.CreatedAt)
	e.Data = data
	return e, e.ID, err
}

// WebhookEvents lists webhook events as f narrows them.
func (r *Reader) WebhookEvents(ctx context.Context, f WebhookEventFilter, p Page) ([]WebhookEvent, PageInfo, error) {
	q := listQuery{table: "rm_webhooks.webhook_events", columns: webhookEventColumns,
		where: `($1::uuid IS NULL OR tenant_id = $1::uuid) AND (cardinality($2::text[]) = 0 OR type = ANY($2::text[]))
			AND NOT (type = ANY($3::text[]))`,
		args: []any{f.TenantScope, nonNil(f.TypeIn), nonNil(f.TypeNotIn)}}
	return pageOf(ctx, r.pool, q, p, scanWebhookEvent)
}
