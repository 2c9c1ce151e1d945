package walletaddress

import (
	"strings"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/valid"
)

// propertiesMax bounds a wallet address's additional properties, which are
// stored with each of its events.
const propertiesMax = 100

// Input checks, run before anything is loaded; each returns the command
// with its ids in canonical form.

func checkCreate(c commands.CreateWalletAddress) (commands.CreateWalletAddress, error) {
	tenantID, ok := valid.ID(c.TenantID)
	if !ok {
		return c, apperr.E(apperr.InvalidInput, "invalid tenant id")
	}
	assetID, ok := valid.ID(c.AssetID)
	if !ok {
		return c, apperr.E(apperr.InvalidInput, "invalid asset id")
	}
	c.TenantID, c.AssetID = tenantID, assetID
	if c.Address == "" || !valid.Text(c.Address, valid.TextLengthMax) {
		return c, errInvalidURL()
	}
	if err := checkDetails(&c.PublicName, c.AdditionalProperties); err != nil {
		return c, err
	}
	return c, nil
}

func checkUpdate(c commands.UpdateWalletAddress) (commands.UpdateWalletAddress, error) {
	id, err := walletAddressID(c.WalletAddressID)
	if err != nil {
		return c, err
	}
	c.WalletAddressID = id
	if c.Status != "" && c.Status != StatusActive && c.Status != StatusInactive {
		return c, apperr.E(apperr.InvalidInput, "status must be ACTIVE or INACTIVE")
	}
	var props []events.Property
	if c.AdditionalProperties != nil {
		props = *c.AdditionalProperties
	}
	return c, checkDetails(c.PublicName, props)
}

func checkCreateKey(c commands.CreateWalletAddressKey) (commands.CreateWalletAddressKey, error) {
	id, err := walletAddressID(c.WalletAddressID)
	if err != nil {
		return c, err
	}
	c.WalletAddressID = id
	if c.JWK.Kid == "" || !valid.Text(c.JWK.Kid, kidLengthMax) {
		return c, apperr.E(apperr.InvalidInput, "kid must be 1 to %d characters, without control characters", kidLengthMax)
	}
	return c, nil
}

func checkRevokeKey(c commands.RevokeWalletAddressKey) (commands.RevokeWalletAddressKey, error) {
	id, ok := valid.ID(c.KeyID)
	if !ok {
		return c, apperr.E(apperr.InvalidInput, "invalid wallet address key id")
	}
	c.KeyID = id
	return c, nil
}

func walletAddressID(v string) (string, error) {
	id, ok := valid.ID(v)
	if !ok {
		return "", apperr.E(apperr.InvalidInput, "invalid wallet address id")
	}
	return id, nil
}

// checkDetails checks a public name (nil: not set) and additional
// properties, which Rafiki keeps in string columns. Properties are checked as
// they will be stored, trimmed.
func checkDetails(publicName *string, props []events.Property) error {
	if publicName != nil && !valid.Text(*publicName, valid.TextLengthMax) {
		return apperr.E(apperr.InvalidInput, "publicName must be at most %d characters, without control characters", valid.TextLengthMax)
	}
	if len(props) > propertiesMax {
		return apperr.E(apperr.InvalidInput, "at most %d additional properties", propertiesMax)
	}
	for _, p := range props {
		if !valid.Text(strings.TrimSpace(p.Key), valid.TextLengthMax) || !valid.Text(strings.TrimSpace(p.Value), valid.TextLengthMax) {
			return apperr.E(apperr.InvalidInput, "additional properties must be at most %d characters, without control characters", valid.TextLengthMax)
		}
	}
	return nil
}

func errInvalidURL() error { return apperr.E(apperr.InvalidInput, "invalid url") }
