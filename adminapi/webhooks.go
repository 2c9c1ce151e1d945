package adminapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/handlers/liquidity"
	"github.com/rafiki-go/rafiki/ledger"
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
// see: the money of an incoming payment that ended, or of a wallet
// address's web monetization.
func (r *Resolver) eventWithdrawal(ctx context.Context, a commands.Actor, eventID string) (*readmodel.WebhookWithdrawal, error) {
	id, ok := valid.ID(eventID)
	if !ok {
		return nil, errInvalidEventID()
	}
	w, err := r.Read.WebhookWithdrawal(ctx, id, tenantScope(a, nil))
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, errInvalidEventID()
	}
	return w, nil
}

// eventWithdrawalOwner is the account a webhook event's money leaves: the
// incoming or outgoing payment's, whose one withdrawal is the event's (it
// ended the payment), or the wallet address's for its web monetization.
func (r *Resolver) eventWithdrawalOwner(ctx context.Context, a commands.Actor, w *readmodel.WebhookWithdrawal) (liquidity.Owner, error) {
	var owner liquidity.Owner
	var transferID string
	var err error
	switch {
	case strings.HasPrefix(w.Type, "outgoing_payment."):
		owner, transferID, err = r.Liquidity.OutgoingPaymentOwner(ctx, a, w.AccountID)
	case w.IncomingPaymentID == nil:
		return r.Liquidity.WalletAddressOwner(ctx, a, w.AccountID)
	default:
		owner, transferID, err = r.Liquidity.IncomingPaymentOwner(ctx, a, *w.IncomingPaymentID)
	}
	if err != nil {
		return liquidity.Owner{}, err
	}
	if transferID != w.EventID {
		return liquidity.Owner{}, errInvalidEventID()
	}
	return owner, nil
}

// triggerLimitMax bounds triggerWalletAddressEvents' limit.
const triggerLimitMax = 1000

// triggerPage is how many wallet addresses triggerWalletAddressEvents reads
// at once.
const triggerPage = 200

// triggerWebMonetization makes up to limit wallet_address.web_monetization
// events, for the wallet addresses in the caller's scope whose accounts
// received more than their events told, in the order of their ids. It reads
// every wallet address until it made limit, a page at a time with their
// accounts' totals.
func (r *Resolver) triggerWebMonetization(ctx context.Context, m commands.Meta, limit int) (int, error) {
	scope := tenantScope(m.Actor, nil)
	count, after := 0, ""
	for count < limit {
		page, err := r.Read.WalletAddressesTold(ctx, scope, after, triggerPage)
		if err != nil || len(page) == 0 {
			return count, err
		}
		after = page[len(page)-1].ID
		received, err := r.received(ctx, page)
		if err != nil {
			return count, err
		}
		for i, w := range page {
			if received[i] <= w.Told {
				continue
			}
			told, _, err := r.WalletAddresses.TellWebMonetization(ctx, m, w.ID, received[i])
			if err != nil {
				return count, err
			}
			if told {
				if count++; count == limit {
					break
				}
			}
		}
	}
	return count, nil
}

// received is what the wallet addresses' accounts received, 0 for one the
// ledger does not know (it never received): a page's in one request, or one
// by one when the page holds such a one, which the ledger refuses to answer
// among others.
func (r *Resolver) received(ctx context.Context, page []readmodel.WalletAddressTold) ([]uint64, error) {
	ids := make([]uuid.UUID, len(page))
	for i, w := range page {
		id, err := uuid.Parse(w.ID)
		if err != nil {
			return nil, fmt.Errorf("wallet address id %q: %w", w.ID, err)
		}
		ids[i] = id
	}
	l := r.Liquidity.Ledger()
	out, err := l.TotalsReceived(ctx, ids)
	if !errors.Is(err, ledger.ErrUnknownAccount) {
		return out, err
	}
	out = make([]uint64, len(ids))
	for i, id := range ids {
		n, err := l.TotalReceived(ctx, id)
		if err != nil && !errors.Is(err, ledger.ErrUnknownAccount) {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}
