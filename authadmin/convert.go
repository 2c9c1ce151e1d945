package authadmin

import (
	"fmt"
	"strconv"

	"github.com/rafiki-go/rafiki/adminapi"
	"github.com/rafiki-go/rafiki/adminapi/scalars"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/authstore"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/valid"
)

func page(after, before *string, first, last *int, order *SortOrder) readmodel.Page {
	return readmodel.Page{After: after, Before: before, First: first, Last: last,
		Descending: order == nil || *order != SortOrderAsc}
}

func pageInfo(p readmodel.PageInfo) *PageInfo {
	return &PageInfo{StartCursor: p.StartCursor, EndCursor: p.EndCursor,
		HasNextPage: p.HasNextPage, HasPreviousPage: p.HasPreviousPage}
}

// filterValuesMax bounds each list of a filter: more identifiers than a
// page holds is no query an operator makes.
const filterValuesMax = 100

// filterOf checks a filter's values: an identifier that no grant could have
// been given (too long, not text) is the caller's mistake, not a miss.
func filterOf(f *GrantFilter, tenant *string) (authstore.Filter, error) {
	out := authstore.Filter{TenantID: tenant}
	if f == nil {
		return out, nil
	}
	if f.Identifier != nil {
		for _, id := range f.Identifier.In {
			if !valid.Text(id, valid.TextLengthMax) {
				return authstore.Filter{}, apperr.E(apperr.InvalidInput, "invalid identifier in filter")
			}
		}
		out.Identifiers = f.Identifier.In
	}
	if f.State != nil {
		out.StateIn, out.StateNotIn = names(f.State.In), names(f.State.NotIn)
	}
	if f.FinalizationReason != nil {
		out.FinalizationReasonIn, out.FinalizationReasonNotIn = names(f.FinalizationReason.In), names(f.FinalizationReason.NotIn)
	}
	for _, values := range [][]string{out.Identifiers, out.StateIn, out.StateNotIn, out.FinalizationReasonIn, out.FinalizationReasonNotIn} {
		if len(values) > filterValuesMax {
			return authstore.Filter{}, apperr.E(apperr.InvalidInput, "more than %d values in a filter list", filterValuesMax)
		}
	}
	return out, nil
}

func names[E ~string](values []E) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

func grantOut(g *authstore.Grant) (*Grant, error) {
	out := &Grant{ID: g.ID, State: GrantState(g.State), CreatedAt: adminapi.Timestamp(g.CreatedAt), TenantID: g.TenantID,
		Access: make([]Access, 0, len(g.Access))}
	if g.Client.WalletAddress != "" {
		out.Client = &g.Client.WalletAddress
	}
	if g.FinalizationReason != nil {
		reason := GrantFinalization(*g.FinalizationReason)
		out.FinalizationReason = &reason
	}
	for _, a := range g.Access {
		actions := make([]*string, len(a.Actions))
		for i := range a.Actions {
			actions[i] = &a.Actions[i]
		}
		limits, err := limitsOut(a.Limits)
		if err != nil {
			return nil, fmt.Errorf("grant %s access %s: %w", g.ID, a.ID, err)
		}
		out.Access = append(out.Access, Access{ID: a.ID, Identifier: a.Identifier, Type: a.Type, Actions: actions,
			Limits: limits, CreatedAt: adminapi.Timestamp(a.CreatedAt)})
	}
	if len(g.Subjects) > 0 {
		out.Subject = &Subject{SubIds: make([]SubjectItem, 0, len(g.Subjects))}
		for _, s := range g.Subjects {
			out.Subject.SubIds = append(out.Subject.SubIds, SubjectItem{ID: s.ID, SubID: s.SubID, SubIDFormat: s.Format,
				CreatedAt: adminapi.Timestamp(s.CreatedAt)})
		}
	}
	return out, nil
}

func limitsOut(l *events.GrantLimits) (*LimitData, error) {
	if l == nil {
		return nil, nil
	}
	out := &LimitData{}
	if l.Receiver != "" {
		out.Receiver = &l.Receiver
	}
	if l.Interval != "" {
		out.Interval = &l.Interval
	}
	var err error
	if out.DebitAmount, err = amountOut(l.DebitAmount); err != nil {
		return nil, err
	}
	if out.ReceiveAmount, err = amountOut(l.ReceiveAmount); err != nil {
		return nil, err
	}
	return out, nil
}

// amountOut reads an amount's value, checked to be an unsigned 64-bit
// integer when the grant was requested.
func amountOut(a *events.GrantAmount) (*PaymentAmount, error) {
	if a == nil {
		return nil, nil
	}
	v, err := strconv.ParseUint(a.Value, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("amount %q: %w", a.Value, err)
	}
	return &PaymentAmount{Value: scalars.BigInt(v), AssetCode: a.AssetCode, AssetScale: scalars.UInt8(a.AssetScale)}, nil
}
