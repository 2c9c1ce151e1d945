package adminapi

import (
	"fmt"

	"github.com/rafiki-go/rafiki/readmodel"
)

// webhookEventTypesHidden are left out of webhookEvents unless the filter
// names types to leave out itself, as Rafiki's list does: the events only
// its card service is sent.
var webhookEventTypesHidden = []string{"outgoing_payment.funded", "outgoing_payment.cancelled"}

func webhookEventFilter(f readmodel.WebhookEventFilter, filter *WebhookEventFilter) readmodel.WebhookEventFilter {
	f.TypeNotIn = webhookEventTypesHidden
	if filter == nil || filter.Type == nil {
		return f
	}
	f.TypeIn = filter.Type.In
	if len(filter.Type.NotIn) > 0 {
		f.TypeNotIn = filter.Type.NotIn
	}
	return f
}

func webhookEventOut(e *readmodel.WebhookEvent) (*WebhookEvent, error) {
	data, err := metadataOut(e.Data)
	if err != nil {
		return nil, fmt.Errorf("data of webhook event %s: %w", e.ID, err)
	}
	return &WebhookEvent{ID: e.ID, Type: e.Type, Data: data, CreatedAt: Timestamp(e.CreatedAt), TenantID: e.TenantID}, nil
}
