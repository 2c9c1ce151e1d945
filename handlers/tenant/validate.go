package tenant

import (
	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/valid"
)

// checkCreate checks a new tenant's input and returns the command with its
// id in canonical form. An id chosen by the operator may be spelled any way
// a UUID can be: it names subjects and rows, which must agree on one form.
func checkCreate(c commands.CreateTenant) (commands.CreateTenant, error) {
	if c.TenantID != "" {
		u, err := uuid.Parse(c.TenantID)
		if err != nil {
			return c, apperr.E(apperr.InvalidInput, "Invalid Tenant ID")
		}
		c.TenantID = u.String()
	}
	if c.APISecret == "" {
		return c, apperr.E(apperr.InvalidInput, "apiSecret must not be empty")
	}
	if err := checkDetails(&c.Email, &c.APISecret, &c.IDPConsentURL, &c.IDPSecret, &c.PublicName); err != nil {
		return c, err
	}
	return c, validateSettings(c.Settings)
}

// checkUpdate checks a tenant update and returns it with the id in
// canonical form.
func checkUpdate(c commands.UpdateTenant) (commands.UpdateTenant, error) {
	id, err := checkTenantID(c.TenantID)
	if err != nil {
		return c, err
	}
	c.TenantID = id
	if c.APISecret != nil && *c.APISecret == "" {
		return c, apperr.E(apperr.InvalidInput, "apiSecret must not be empty")
	}
	return c, checkDetails(c.Email, c.APISecret, c.IDPConsentURL, c.IDPSecret, c.PublicName)
}

func checkDelete(c commands.DeleteTenant) (commands.DeleteTenant, error) {
	id, err := checkTenantID(c.TenantID)
	c.TenantID = id
	return c, err
}

func checkSetSettings(c commands.SetTenantSettings) (commands.SetTenantSettings, error) {
	id, err := checkTenantID(c.TenantID)
	if err != nil {
		return c, err
	}
	c.TenantID = id
	if len(c.Settings) == 0 {
		return c, errInvalidSettings()
	}
	return c, validateSettings(c.Settings)
}

func checkTenantID(v string) (string, error) {
	id, ok := valid.ID(v)
	if !ok {
		return "", apperr.E(apperr.InvalidInput, "Invalid Tenant ID")
	}
	return id, nil
}

// checkDetails checks the fields a tenant is described by; nil ones are not
// set. They are Rafiki's string columns; the consent URL is where browsers
// are sent, so it must be http(s).
func checkDetails(email, apiSecret, idpConsentURL, idpSecret, publicName *string) error {
	for _, f := range []struct {
		name  string
		value *string
	}{{"email", email}, {"apiSecret", apiSecret}, {"idpSecret", idpSecret}, {"publicName", publicName}} {
		if f.value != nil && !valid.Text(*f.value, valid.TextLengthMax) {
			return apperr.E(apperr.InvalidInput, "%s must be at most %d characters, without control characters", f.name, valid.TextLengthMax)
		}
	}
	if idpConsentURL != nil && *idpConsentURL != "" && !valid.HTTPURL(*idpConsentURL, valid.TextLengthMax) {
		return apperr.E(apperr.InvalidInput, "idpConsentUrl must be an http or https URL of at most %d characters", valid.TextLengthMax)
	}
	return nil
}
