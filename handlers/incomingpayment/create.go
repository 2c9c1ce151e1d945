package incomingpayment

import (
	"fmt"
	"time"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/asset"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
)

// decideCreate makes an incoming payment into a live wallet address the
// actor may act for, in the wallet address's asset, expiring at the time
// asked (after now and at most expiryMax from now) or else expiryMax from
// now. The checks come in Rafiki's order: expiry, amount, wallet address.
func decideCreate(wa walletaddress.State, a asset.State, c commands.CreateIncomingPayment, now time.Time, expiryMax time.Duration) ([]events.Event, error) {
	latest := now.Add(expiryMax)
	expiresAt := latest
	if c.ExpiresAt != nil {
		if !c.ExpiresAt.After(now) || c.ExpiresAt.After(latest) {
			return nil, errInvalidExpiry()
		}
		expiresAt = *c.ExpiresAt
	}
	if c.IncomingAmount != nil && c.IncomingAmount.Value == 0 {
		return nil, errInvalidAmount()
	}
	if !wa.Exists || !c.Actor.CanActFor(wa.TenantID) {
		return nil, errUnknownWalletAddress()
	}
	if !wa.Active() {
		return nil, errInactiveWalletAddress()
	}
	if !a.Exists || a.ID != wa.AssetID {
		return nil, fmt.Errorf("asset %s of wallet address %s not found", wa.AssetID, wa.ID)
	}
	e := &events.IncomingPaymentCreated{
		WalletAddressID: wa.ID, AssetID: a.ID, AssetCode: a.Code, AssetScale: a.Scale,
		// Rafiki keeps times to the millisecond.
		ExpiresAt: expiresAt.UTC().Truncate(time.Millisecond),
		Metadata:  c.Metadata, Client: c.Client, ClientKey: c.ClientKey, InitiatedBy: c.InitiatedBy, SenderWalletAddress: c.SenderWalletAddress,
	}
	if in := c.IncomingAmount; in != nil {
		if in.AssetCode != a.Code || in.AssetScale != a.Scale {
			return nil, errInvalidAmount()
		}
		value := in.Value
		e.IncomingAmount = &value
	}
	return []events.Event{e}, nil
}
