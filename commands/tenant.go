package commands

import "github.com/rafiki-go/rafiki/events"

type CreateTenant struct {
	Meta
	TenantID      string // empty: a new id is derived from the command id
	Email         string
	APISecret     string
	IDPConsentURL string
	IDPSecret     string
	PublicName    string
	Settings      []events.Setting
}

// UpdateTenant changes the fields that are set.
type UpdateTenant struct {
	Meta
	TenantID      string
	Email         *string
	APISecret     *string
	IDPConsentURL *string
	IDPSecret     *string
	PublicName    *string
}

type DeleteTenant struct {
	Meta
	TenantID string
}

// SetTenantSettings upserts settings of the actor's tenant.
type SetTenantSettings struct {
	Meta
	TenantID string
	Settings []events.Setting
}
