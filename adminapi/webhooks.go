package adminapi

import (
	"context"
	"fmt"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/valid"
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

// errInvalidEventID is Rafiki's answer to a withdrawal of an event that
// does not exist, is another tenant's, or tells of no money.
func errInvalidEventID() error { return apperr.E(apperr.InvalidInput, "Invalid id") }

// eventWithdrawal finds the withdrawal of a webhook event the caller may
// see: an incoming payment's money, as the events that carry one so far.
func (r *Resolver) eventWithdrawal(ctx context.Context, a commands.Actor, eventID string) (*readmodel.WebhookWithdrawal, error) {
	id, ok := valid.ID(eventID)
	if !ok {
		return nil, errInvalidEventID()
	}
	w, err := r.Read.WebhookWithdrawal(ctx, id, tenantScope(a, nil))
	if err != nil {
		return nil, err
	}
	if w == nil || w.IncomingPaymentID == nil {
		return nil, errInvalidEventID()
	}
	return w, nil
}
