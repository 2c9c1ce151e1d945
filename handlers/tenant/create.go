package tenant

import (
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// decideCreate creates a tenant (its input checked by checkCreate); only the
// operator may.
func decideCreate(s State, c commands.CreateTenant, tenantID, operatorILPAddress string) ([]events.Event, error) {
	if !c.Actor.Operator {
		return nil, apperr.E(apperr.Forbidden, "permission denied")
	}
	if s.Exists {
		return nil, apperr.E(apperr.Duplicate, "Tenant already exists")
	}
	return []events.Event{&events.TenantCreated{
		Email: c.Email, APISecret: c.APISecret, IDPConsentURL: c.IDPConsentURL, IDPSecret: c.IDPSecret,
		PublicName: c.PublicName, Settings: initialSettings(tenantID, operatorILPAddress, c.Settings),
	}}, nil
}

// decideEnsureOperator seeds the operator tenant from configuration, and
// keeps its API secret equal to ADMIN_API_SECRET.
func decideEnsureOperator(s State, tenantID, secret, operatorILPAddress string) ([]events.Event, error) {
	if secret == "" {
		return nil, apperr.E(apperr.InvalidInput, "ADMIN_API_SECRET must be set")
	}
	if !s.Exists {
		return []events.Event{&events.TenantCreated{
			APISecret: secret, Settings: initialSettings(tenantID, operatorILPAddress, nil),
		}}, nil
	}
	if s.DeletedAt != nil {
		return nil, apperr.E(apperr.Inactive, "the operator tenant %s is deleted", tenantID)
	}
	if s.APISecret == secret {
		return nil, nil
	}
	return []events.Event{&events.TenantUpdated{APISecret: &secret}}, nil
}
