package httpsig

import (
	"errors"
	"fmt"

	"github.com/rafiki-go/rafiki/apperr"
)

// Reason says why a request was refused; its values are stable and may be
// logged, counted and mapped to protocol error codes.
type Reason string

const (
	ReasonMalformed              Reason = "malformed_signature_headers"
	ReasonWrongLabel             Reason = "wrong_label"
	ReasonMissingComponent       Reason = "missing_component"
	ReasonUnsupportedComponent   Reason = "unsupported_component"
	ReasonUnsupportedParameter   Reason = "unsupported_parameter"
	ReasonBadDigest              Reason = "content_digest_mismatch"
	ReasonBadContentLength       Reason = "content_length_mismatch"
	ReasonExpired                Reason = "signature_expired"
	ReasonFuture                 Reason = "signature_created_in_future"
	ReasonUnknownKey             Reason = "unknown_key"
	ReasonBadKey                 Reason = "unsupported_key"
	ReasonKeyUnavailable         Reason = "key_unavailable"
	ReasonBadSignature           Reason = "signature_mismatch"
	ReasonReplayed               Reason = "signature_replayed"
	ReasonReplayGuardUnavailable Reason = "replay_guard_unavailable"
)

// Error is a refused signature. Its message is safe to show to the caller;
// Cause, when set, is for the server log only.
type Error struct {
	Reason  Reason
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Reason, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Message)
}

// Kind is the apperr kind the refusal crosses the wire as.
func (e *Error) Kind() apperr.Kind {
	if e.Reason == ReasonReplayGuardUnavailable {
		return apperr.Unavailable
	}
	return apperr.Unauthenticated
}

// Unwrap gives apperr.KindOf and apperr.Message the refusal as an
// *apperr.Error, and errors.Is the cause.
func (e *Error) Unwrap() []error {
	errs := []error{apperr.E(e.Kind(), "%s", e.Message)}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

func refuse(reason Reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ReasonOf is the Reason of the first *Error in err's chain, or "" if none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
