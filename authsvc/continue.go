package authsvc

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// hasSignatureHeaders is Rafiki's first check of a signed request, before
// anything is looked up.
func hasSignatureHeaders(r *http.Request) bool {
	return r.Header.Get("Signature") != "" && r.Header.Get("Signature-Input") != ""
}

// continuation finds the grant a continuation request names and checks the
// request is signed by its client: the continuation id and token must be
// the grant's (401 invalid_continuation otherwise, as Rafiki).
func (s *Server) continuation(r *http.Request, body []byte) (GrantRef, grant.State, string, error) {
	token := gnapToken(r)
	if !hasSignatureHeaders(r) || token == "" {
		return GrantRef{}, grant.State{}, "", refusal(grant.InvalidClient, apperr.Unauthenticated, "invalid signature headers")
	}
	invalid := refusal(grant.InvalidContinuation, apperr.Unauthenticated, "invalid grant")
	id := chi.URLParam(r, "id")
	ref, found, err := s.deps.Lookup.ByContinueID(r.Context(), id)
	if err != nil {
		return GrantRef{}, grant.State{}, "", err
	}
	if !found {
		return GrantRef{}, grant.State{}, "", invalid
	}
	st, err := s.loadGrant(r.Context(), ref)
	if err != nil {
		return GrantRef{}, grant.State{}, "", err
	}
	if !st.Exists || st.ContinueID != id ||
		subtle.ConstantTimeCompare([]byte(grant.TokenHash(token)), []byte(st.ContinueTokenHash)) != 1 {
		return GrantRef{}, grant.State{}, "", invalid
	}
	if err := s.verify(r, body, st.Client); err != nil {
		return GrantRef{}, grant.State{}, "", err
	}
	return ref, st, token, nil
}

// parseContinueBody reads a continuation's body: empty (or {}) is a poll,
// "" here; anything else must carry the interact_ref (401 as Rafiki).
func parseContinueBody(body []byte) (string, error) {
	if len(body) == 0 {
		return "", nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return "", refusal(grant.InvalidRequest, apperr.InvalidInput, "invalid continuation body")
	}
	if len(fields) == 0 {
		return "", nil
	}
	var ref string
	if err := json.Unmarshal(fields["interact_ref"], &ref); err != nil || ref == "" {
		return "", refusal(grant.InvalidRequest, apperr.Unauthenticated, "missing interaction reference")
	}
	return ref, nil
}

// continueGrant is POST /continue/<id>: a poll when the body is empty,
// otherwise the continuation with the interact_ref the client was sent.
func (s *Server) continueGrant(w http.ResponseWriter, r *http.Request) {
	if err := s.continueGrantErr(w, r); err != nil {
		writeError(w, s.deps.Log, r, err)
	}
}

func (s *Server) continueGrantErr(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ref, _, token, err := s.continuation(r, body)
	if err != nil {
		return err
	}
	interactRef, err := parseContinueBody(body)
	if err != nil {
		return err
	}
	c := commands.ContinueGrant{
		Meta: meta(), GrantID: ref.GrantID, ContinueID: chi.URLParam(r, "id"), ContinueToken: token, InteractRef: interactRef,
	}
	out, err := s.deps.Handler.Continue(r.Context(), c)
	if err != nil {
		return err
	}
	cont := continueBody{AccessToken: tokenValue{Value: token}, URI: s.continueURI(c.ContinueID)}
	if out.AccessToken == nil {
		wait := seconds(out.Wait)
		cont.Wait = &wait
		writeJSON(w, http.StatusOK, continuationBody{Continue: cont})
		return nil
	}
	st, err := s.loadGrant(r.Context(), ref)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, grantBody{
		AccessToken: s.accessToken(out.AccessToken, st.Access), Continue: cont, Subject: subject(st.Subject),
	})
	return nil
}

// revokeGrant is DELETE /continue/<id>: the client ends its grant and its
// access tokens; answered once the revocation is stored.
func (s *Server) revokeGrant(w http.ResponseWriter, r *http.Request) {
	if err := s.revokeGrantErr(r); err != nil {
		writeError(w, s.deps.Log, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) revokeGrantErr(r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ref, _, token, err := s.continuation(r, body)
	if err != nil {
		return err
	}
	res, err := s.deps.Handler.Revoke(r.Context(), commands.RevokeGrant{
		Meta: meta(), GrantID: ref.GrantID, ContinueID: chi.URLParam(r, "id"), ContinueToken: token,
	})
	if err != nil {
		return err
	}
	return s.revoked(r.Context(), ref.GrantID, res.Sequence)
}
