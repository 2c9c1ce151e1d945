package grant

import (
	"fmt"

	"github.com/rafiki-go/rafiki/apperr"
)

// Code is a GNAP error code, as Rafiki sends them.
type Code string

const (
	InvalidRequest      Code = "invalid_request"
	InvalidClient       Code = "invalid_client"
	InvalidInteraction  Code = "invalid_interaction"
	InvalidRotation     Code = "invalid_rotation"
	InvalidContinuation Code = "invalid_continuation"
	UserDenied          Code = "user_denied"
	RequestDenied       Code = "request_denied"
	UnknownInteraction  Code = "unknown_interaction"
	TooFast             Code = "too_fast"
)

// Error is a refusal in GNAP's terms. Its apperr kind gives the HTTP
// status Rafiki answers it with (400 InvalidInput, 401 Unauthenticated,
// 403 Forbidden, 404 NotFound), its code the GNAP error body.
type Error struct {
	Code        Code
	Kind        apperr.Kind
	Description string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Description) }

// Unwrap makes the refusal an apperr.Error for code that knows only those.
func (e *Error) Unwrap() error { return apperr.E(e.Kind, "%s", e.Description) }

func gnapErr(code Code, kind apperr.Kind, description string) *Error {
	return &Error{Code: code, Kind: kind, Description: description}
}
