package asset

import (
	"strings"
	"unicode"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

// ledgerMax keeps ledger numbers in the range of Rafiki's smallserial
// column, so that data moves between the two without renumbering.
const ledgerMax = 32767

const codeLengthMax = 64

// decideCreate creates an asset, or re-activates the soft-deleted asset with
// the same code and scale (existing is that asset's state when there is one).
func decideCreate(existing State, c commands.CreateAsset, nextLedger uint32) ([]events.Event, error) {
	if !c.Actor.CanActFor(c.TenantID) {
		return nil, apperr.E(apperr.InvalidInput, "Assignment to the specified tenant is not permitted")
	}
	if existing.Exists {
		if existing.DeletedAt == nil {
			return nil, apperr.E(apperr.Duplicate, "Asset already exists")
		}
		return []events.Event{&events.AssetReactivated{}}, nil
	}
	if nextLedger == 0 || nextLedger > ledgerMax {
		return nil, apperr.E(apperr.InvalidInput, "no ledger number left for a new asset (at most %d)", ledgerMax)
	}
	return []events.Event{&events.AssetCreated{
		Code: c.Code, Scale: c.Scale, Ledger: nextLedger,
		WithdrawalThreshold: c.WithdrawalThreshold, LiquidityThreshold: c.LiquidityThreshold,
	}}, nil
}

func validateCode(code string) error {
	if code == "" || len(code) > codeLengthMax {
		return apperr.E(apperr.InvalidInput, "asset code must be 1 to %d characters", codeLengthMax)
	}
	if strings.IndexFunc(code, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return apperr.E(apperr.InvalidInput, "asset code must not contain spaces or control characters")
	}
	return nil
}
