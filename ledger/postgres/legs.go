package postgres

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/ledger"
)

// LegID is the id of a transfer's leg: derived from the request's id, so a
// retried request names the same legs and is refused as existing instead of
// being applied twice.
func LegID(transferID uuid.UUID, index int) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "rafiki:ledger_leg:%s/%d", transferID, index))
}

// transferOperation checks a transfer request in Rafiki's order and builds
// its legs (Rafiki's createAccountToAccountTransfer).
func transferOperation(t ledger.TransferRequest) (*operation, error) {
	if t.ID == uuid.Nil {
		return nil, ledger.ErrInvalidID
	}
	if t.Source.ID == t.Destination.ID {
		return nil, ledger.ErrSameAccounts
	}
	if t.SourceAmount == 0 || t.SourceAmount > amountMax {
		return nil, ledger.ErrInvalidSourceAmount
	}
	if t.DestinationAmount > amountMax {
		return nil, ledger.ErrInvalidDestinationAmount
	}
	timeout, err := timeoutOf(t.Timeout)
	if err != nil {
		return nil, err
	}
	code := t.Type
	switch code {
	case 0:
		code = ledger.TypeTransfer
	case ledger.TypeTransfer, ledger.TypeDeposit, ledger.TypeWithdrawal:
	default:
		return nil, fmt.Errorf("ledger/postgres: transfer %s: unknown transfer type %d", t.ID, t.Type)
	}
	var legs []leg
	if t.Source.Ledger == t.Destination.Ledger {
		legs = sameAssetLegs(t)
	} else {
		if t.DestinationAmount == 0 {
			return nil, ledger.ErrInvalidDestinationAmount
		}
		legs = crossAssetLegs(t)
	}
	for i := range legs {
		if legs[i].debit == legs[i].credit {
			return nil, ledger.ErrSameAccounts
		}
		legs[i].id = LegID(t.ID, i)
		legs[i].group = t.ID
		legs[i].code = code
		legs[i].timeout = timeout
	}
	return &operation{
		kind:           kindCreate,
		legs:           legs,
		sourceIDs:      []uuid.UUID{t.Source.ID, t.Source.AssetID},
		destinationIDs: []uuid.UUID{t.Destination.ID, t.Destination.AssetID},
		liquidityID:    t.Destination.AssetID,
	}, nil
}

// sameAssetLegs: the source pays the destination the smaller amount, and
// the asset's liquidity account takes the source's excess or pays the
// destination's.
func sameAssetLegs(t ledger.TransferRequest) []leg {
	source, destination := t.SourceAmount, t.DestinationAmount
	if destination == 0 {
		destination = source
	}
	n := t.Source.Ledger
	legs := []leg{{debit: t.Source.ID, credit: t.Destination.ID, amount: min(source, destination), ledger: n}}
	switch {
	case source > destination:
		legs = append(legs, leg{debit: t.Source.ID, credit: t.Source.AssetID, amount: source - destination, ledger: n})
	case destination > source:
		legs = append(legs, leg{debit: t.Destination.AssetID, credit: t.Destination.ID, amount: destination - source, ledger: n})
	}
	return legs
}

// crossAssetLegs: the source pays its asset's liquidity account on its
// ledger, and the destination asset's liquidity account pays the
// destination on the other.
func crossAssetLegs(t ledger.TransferRequest) []leg {
	return []leg{
		{debit: t.Source.ID, credit: t.Source.AssetID, amount: t.SourceAmount, ledger: t.Source.Ledger},
		{debit: t.Destination.AssetID, credit: t.Destination.ID, amount: t.DestinationAmount, ledger: t.Destination.Ledger},
	}
}
