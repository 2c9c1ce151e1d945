package ledger

import "errors"

// Errors, as Rafiki's accounting service names them.
var (
	ErrAlreadyPosted             = errors.New("Transfer already posted")
	ErrAlreadyVoided             = errors.New("Transfer already voided")
	ErrDifferentAssets           = errors.New("Transfer accounts have different assets")
	ErrInsufficientBalance       = errors.New("Insufficient transfer balance")
	ErrInsufficientDebitBalance  = errors.New("Insufficient transfer debit balance")
	ErrInsufficientLiquidity     = errors.New("Insufficient transfer liquidity available")
	ErrInvalidAmount             = errors.New("Invalid transfer amount")
	ErrInvalidID                 = errors.New("Invalid transfer id")
	ErrInvalidSourceAmount       = errors.New("Invalid source account amount")
	ErrInvalidDestinationAmount  = errors.New("Invalid destination account amount")
	ErrInvalidTimeout            = errors.New("Invalid transfer timeout provided")
	ErrSameAccounts              = errors.New("Transfer is between the same accounts")
	ErrTransferExists            = errors.New("Transfer already exists")
	ErrTransferExpired           = errors.New("Transfer already expired")
	ErrUnknownTransfer           = errors.New("Unknown transfer")
	ErrUnknownSourceAccount      = errors.New("Unknown source account")
	ErrUnknownDestinationAccount = errors.New("Unknown destination account")
	ErrUnknownAccount            = errors.New("Unknown account")
)
