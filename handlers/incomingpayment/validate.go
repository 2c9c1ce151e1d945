package incomingpayment

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/valid"
)

// Errors, with Rafiki's messages (open_payments/payment/incoming/errors.ts).
func errUnknownWalletAddress() error  { return apperr.E(apperr.NotFound, "unknown wallet address") }
func errInactiveWalletAddress() error { return apperr.E(apperr.Inactive, "inactive wallet address") }
func errInvalidAmount() error         { return apperr.E(apperr.InvalidInput, "invalid amount") }
func errUnknownPayment() error        { return apperr.E(apperr.NotFound, "unknown payment") }
func errInvalidExpiry() error         { return apperr.E(apperr.InvalidInput, "invalid expiresAt") }
func errWrongState() error            { return apperr.E(apperr.Conflict, "wrong state") }
func errAlreadyActioned() error       { return apperr.E(apperr.Forbidden, "action already performed") }

// metadataBytesMax bounds an incoming payment's metadata, which its events
// carry (Rafiki sets no limit on its jsonb column).
const metadataBytesMax = 16 << 10

func validInitiator(v string) bool {
	return v == events.InitiatedByAdmin || v == events.InitiatedByOpenPayments || v == events.InitiatedByCard
}

// Input checks, run before anything is loaded; each returns the command
// with its ids in canonical form and its metadata compacted.

func checkCreate(c commands.CreateIncomingPayment) (commands.CreateIncomingPayment, error) {
	id, ok := valid.ID(c.WalletAddressID)
	if !ok {
		return c, apperr.E(apperr.InvalidInput, "invalid wallet address id")
	}
	c.WalletAddressID = id
	if !validInitiator(c.InitiatedBy) {
		return c, apperr.E(apperr.InvalidInput, "initiatedBy must be ADMIN, OPEN_PAYMENTS or CARD")
	}
	if !valid.Text(c.Client, valid.TextLengthMax) || !valid.Text(c.ClientKey, valid.TextLengthMax) {
		return c, apperr.E(apperr.InvalidInput, "client must be at most %d characters, without control characters", valid.TextLengthMax)
	}
	if c.SenderWalletAddress != nil && !valid.Text(*c.SenderWalletAddress, valid.TextLengthMax) {
		return c, apperr.E(apperr.InvalidInput, "senderWalletAddress must be at most %d characters, without control characters", valid.TextLengthMax)
	}
	if a := c.IncomingAmount; a != nil && !valid.Text(a.AssetCode, valid.TextLengthMax) {
		return c, errInvalidAmount()
	}
	var err error
	c.Metadata, err = CheckMetadata(c.Metadata, false)
	return c, err
}

func checkUpdate(c commands.UpdateIncomingPayment) (commands.UpdateIncomingPayment, error) {
	var err error
	if c.IncomingPaymentID, err = paymentID(c.IncomingPaymentID); err != nil {
		return c, err
	}
	c.Metadata, err = CheckMetadata(c.Metadata, true)
	return c, err
}

func checkCancel(c commands.CancelIncomingPayment) (commands.CancelIncomingPayment, error) {
	var err error
	if c.IncomingPaymentID, err = paymentID(c.IncomingPaymentID); err != nil {
		return c, err
	}
	if c.Reason != nil && !valid.Text(*c.Reason, valid.TextLengthMax) {
		return c, apperr.E(apperr.InvalidInput, "cancellationReason must be at most %d characters, without control characters", valid.TextLengthMax)
	}
	return c, nil
}

func paymentID(v string) (string, error) {
	id, ok := valid.ID(v)
	if !ok {
		return "", apperr.E(apperr.InvalidInput, "invalid incoming payment id")
	}
	return id, nil
}

// CheckMetadata accepts a payment's metadata: a JSON object of at most metadataBytesMax bytes,
// empty (no metadata) only when not required, and returns it encoded
// afresh: compact, numbers as doubles (as Rafiki's JSON has them), with
// what Postgres's jsonb refuses gone (a lone surrogate escape becomes
// U+FFFD) or refused (a NUL in any string, a number no double holds).
func CheckMetadata(m json.RawMessage, required bool) (json.RawMessage, error) {
	if len(m) == 0 {
		if required {
			return nil, apperr.E(apperr.InvalidInput, "metadata is required")
		}
		return nil, nil
	}
	tooLarge := apperr.E(apperr.InvalidInput, "metadata must be at most %d bytes of JSON", metadataBytesMax)
	notObject := apperr.E(apperr.InvalidInput, "metadata must be a JSON object")
	if len(m) > metadataBytesMax {
		return nil, tooLarge
	}
	d := json.NewDecoder(bytes.NewReader(m))
	var object map[string]any
	if err := d.Decode(&object); err != nil || object == nil {
		return nil, notObject
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, notObject
	}
	if holdsNUL(object) {
		return nil, apperr.E(apperr.InvalidInput, "metadata must not hold the character NUL")
	}
	var out bytes.Buffer
	e := json.NewEncoder(&out)
	e.SetEscapeHTML(false)
	if err := e.Encode(object); err != nil {
		return nil, notObject
	}
	if out.Len()-1 > metadataBytesMax {
		return nil, tooLarge
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// holdsNUL tells whether a decoded JSON value has a NUL in a string or a
// key; the depth is bounded by the decoder's.
func holdsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case []any:
		for _, e := range v {
			if holdsNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) || holdsNUL(e) {
				return true
			}
		}
	}
	return false
}
