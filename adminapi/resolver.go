// Package adminapi is the backend's admin GraphQL API: thin resolvers that
// turn requests into commands, wait for the projections to show their
// effect, and read the read models.
package adminapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/liquidity"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/receiver"
	"github.com/rafiki-go/rafiki/valid"
)

// Resolver holds what the resolvers use.
type Resolver struct {
	Tenants          *tenant.Handler
	Assets           *asset.Handler
	WalletAddresses  *walletaddress.Handler
	Peers            *peer.Handler
	Liquidity        *liquidity.Handler
	IncomingPayments *incomingpayment.Handler
	Quotes           *quote.Handler
	OutgoingPayments *outgoingpayment.Handler
	// Receivers resolve incoming payments by URL, here or on another
	// instance.
	Receivers             *receiver.Service
	Read                  *readmodel.Reader
	Waiter                *projections.Waiter
	ReadYourWritesTimeout time.Duration
	// OpenPaymentsURL (OPEN_PAYMENTS_URL) is where Open Payments resources
	// are served, which their URLs name.
	OpenPaymentsURL string
	// CommandKey keys the command ids derived from what a request says
	// (contentMeta); without it such requests get random ids.
	CommandKey []byte
}

// actor is the signed caller; the authentication middleware guarantees one.
func actor(ctx context.Context) (commands.Actor, error) {
	id, ok := adminauth.FromContext(ctx)
	if !ok {
		return commands.Actor{}, apperr.E(apperr.Unauthenticated, "request is not signed")
	}
	return commands.Actor{TenantID: id.TenantID, Operator: id.IsOperator}, nil
}

// meta starts a command sent on behalf of the caller.
func meta(ctx context.Context) (commands.Meta, error) {
	a, err := actor(ctx)
	if err != nil {
		return commands.Meta{}, err
	}
	id, fixed := commandIDFrom(ctx)
	if !fixed {
		id = uuid.NewString()
	}
	return commands.Meta{ID: id, CorrelationID: id, Actor: a}, nil
}

// contentMeta starts a command whose id follows from what the request says,
// for mutations without an idempotency key that can happen only once (a
// createTenant that names its tenant, a deleteTenant): a retry is then the
// same command, which answers its first result. The id is an HMAC under
// CommandKey, so the id the log records reveals nothing of the request's
// secrets.
func (r *Resolver) contentMeta(ctx context.Context, operation string, content any) (commands.Meta, error) {
	m, err := meta(ctx)
	if _, fixed := commandIDFrom(ctx); err != nil || fixed || len(r.CommandKey) == 0 {
		return m, err
	}
	data, err := json.Marshal(content)
	if err != nil {
		return commands.Meta{}, fmt.Errorf("%s: command id: %w", operation, err)
	}
	mac := hmac.New(sha256.New, r.CommandKey)
	fmt.Fprintf(mac, "%s\x00%s\x00", operation, m.Actor.TenantID)
	mac.Write(data)
	id := uuid.NewSHA1(uuid.Nil, mac.Sum(nil)).String()
	m.ID, m.CorrelationID = id, id
	return m, nil
}

// seen waits until a projection shows the effect of a command.
func (r *Resolver) seen(ctx context.Context, projection string, res handlers.Result) error {
	if err := r.Waiter.Wait(ctx, projection, res.Sequence, r.ReadYourWritesTimeout); err != nil {
		return apperr.E(apperr.Timeout, "the change is stored but not visible yet: %v", err)
	}
	return nil
}

// created is the event of type E a command's run appended, when it
// appended one: an answer made of it needs no read of the row the
// projection made.
func created[E events.Event](res handlers.Result) (events.Envelope, E, bool) {
	for _, a := range res.Appended {
		if e, ok := a.Event.(E); ok {
			return a.Envelope, e, true
		}
	}
	var none E
	return events.Envelope{}, none, false
}

// listScope is the tenant a list is of: the caller's, or for the operator
// the one it asks for (nil: every tenant's), which must be an id.
func listScope(ctx context.Context, requested *string) (*string, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if requested != nil && a.Operator && !valid.IsID(*requested) {
		return nil, apperr.E(apperr.InvalidInput, "tenantId must be a tenant's id (a UUID)")
	}
	return tenantScope(a, requested), nil
}

// tenantScope is the tenant a query is limited to: the caller's own, or for
// the operator the one asked for, or none.
func tenantScope(a commands.Actor, requested *string) *string {
	if a.Operator {
		return requested
	}
	return &a.TenantID
}

// Timestamp writes a time as the admin APIs answer times (ISO 8601 in UTC,
// milliseconds), as Rafiki's do.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func optionalTimestamp(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := Timestamp(*t)
	return &s
}

func page(after, before *string, first, last *int, order *SortOrder) readmodel.Page {
	return readmodel.Page{After: after, Before: before, First: first, Last: last,
		Descending: order == nil || *order != SortOrderAsc}
}

func pageInfo(p readmodel.PageInfo) *PageInfo {
	return &PageInfo{StartCursor: p.StartCursor, EndCursor: p.EndCursor,
		HasNextPage: p.HasNextPage, HasPreviousPage: p.HasPreviousPage}
}
