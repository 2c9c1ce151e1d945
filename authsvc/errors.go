package authsvc

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/httpsig"
)

// refusal is a refusal the HTTP layer makes itself, in GNAP's terms; its
// status comes from its apperr kind, as the grant handler's do.
func refusal(code grant.Code, kind apperr.Kind, description string) *grant.Error {
	return &grant.Error{Code: code, Kind: kind, Description: description}
}

// gnapOf puts any error in GNAP's terms. A refused signature is Rafiki's
// invalid_client: malformed headers and bad signatures are 401, a key that
// cannot be found 400 ("could not determine client"); a replay guard that
// did not answer is 503, as the request may be fine. Errors of no GNAP
// code keep their kind; what is not the caller's fault says nothing more
// than Rafiki's "internal server error".
func gnapOf(err error) *grant.Error {
	var ge *grant.Error
	if errors.As(err, &ge) {
		return ge
	}
	switch httpsig.ReasonOf(err) {
	case "":
	case httpsig.ReasonMalformed, httpsig.ReasonWrongLabel, httpsig.ReasonMissingComponent,
		httpsig.ReasonUnsupportedComponent, httpsig.ReasonUnsupportedParameter:
		return refusal(grant.InvalidClient, apperr.Unauthenticated, "invalid signature headers")
	case httpsig.ReasonUnknownKey, httpsig.ReasonBadKey, httpsig.ReasonKeyUnavailable:
		return refusal(grant.InvalidClient, apperr.InvalidInput, "could not determine client")
	case httpsig.ReasonReplayGuardUnavailable:
		return refusal(grant.RequestDenied, apperr.Unavailable, apperr.Message(err))
	default:
		return refusal(grant.InvalidClient, apperr.Unauthenticated, "invalid signature")
	}
	switch kind := apperr.KindOf(err); kind {
	case apperr.Internal:
		return refusal(grant.RequestDenied, kind, "internal server error")
	case apperr.Unavailable, apperr.Timeout:
		return refusal(grant.RequestDenied, kind, apperr.Message(err))
	default:
		return refusal(grant.InvalidRequest, kind, apperr.Message(err))
	}
}

type errorBody struct {
	Error struct {
		Code        grant.Code `json:"code"`
		Description string     `json:"description"`
	} `json:"error"`
}

// writeError answers err as Rafiki does: {"error":{"code","description"}}
// with the status of its kind.
func writeError(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	ge := gnapOf(err)
	status := apperr.Lookup(ge.Kind).HTTP
	if status >= 500 {
		log.Error("gnap request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		log.Debug("gnap request refused", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var body errorBody
	body.Error.Code, body.Error.Description = ge.Code, ge.Description
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
