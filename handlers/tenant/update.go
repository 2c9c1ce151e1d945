package tenant

import (
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideUpdate changes a tenant's details. A tenant may update itself; the
// operator may update any tenant but not set an API secret through the API
// (its own comes from ADMIN_API_SECRET).
func decideUpdate(s State, c commands.UpdateTenant) ([]events.Event, error) {
	if !c.Actor.CanActFor(c.TenantID) {
		return nil, apperr.E(apperr.NotFound, "tenant does not exist")
	}
	if c.Actor.Operator && c.APISecret != nil {
		return nil, apperr.E(apperr.InvalidInput, "Operator cannot update apiSecret over admin api")
	}
	if !s.Active() {
		return nil, apperr.E(apperr.NotFound, "failed to update tenant")
	}
	e := &events.TenantUpdated{
		Email: c.Email, APISecret: c.APISecret, IDPConsentURL: c.IDPConsentURL,
		IDPSecret: c.IDPSecret, PublicName: c.PublicName,
	}
	if *e == (events.TenantUpdated{}) {
		return nil, nil
	}
	return []events.Event{e}, nil
}

// decideDelete soft-deletes a tenant; only the operator may, and not itself.
func decideDelete(s State, c commands.DeleteTenant, operatorTenantID string) ([]events.Event, error) {
	if !c.Actor.Operator {
		return nil, apperr.E(apperr.Forbidden, "permission denied")
	}
	if c.TenantID == operatorTenantID {
		return nil, apperr.E(apperr.InvalidInput, "the operator tenant cannot be deleted")
	}
	if !s.Active() {
		return nil, apperr.E(apperr.NotFound, "failed to delete tenant")
	}
	return []events.Event{&events.TenantDeleted{}}, nil
}
