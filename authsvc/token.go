package authsvc

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// managed finds the grant of the access token a management request names
// and checks the request is signed by the grant's client (401
// invalid_client for a token that is unknown or revoked, as Rafiki).
func (s *Server) managed(r *http.Request, body []byte) (GrantRef, grant.State, error) {
	if !hasSignatureHeaders(r) {
		return GrantRef{}, grant.State{}, refusal(grant.InvalidClient, apperr.Unauthenticated, "invalid signature headers")
	}
	invalid := refusal(grant.InvalidClient, apperr.Unauthenticated, "invalid access token")
	id := chi.URLParam(r, "id")
	ref, found, err := s.deps.Lookup.ByTokenID(r.Context(), id)
	if err != nil {
		return GrantRef{}, grant.State{}, err
	}
	if !found {
		return GrantRef{}, grant.State{}, invalid
	}
	st, err := s.loadGrant(r.Context(), ref)
	if err != nil {
		return GrantRef{}, grant.State{}, err
	}
	if _, live := st.Tokens[id]; !live {
		return GrantRef{}, grant.State{}, invalid
	}
	if err := s.verify(r, body, st.Client); err != nil {
		return GrantRef{}, grant.State{}, err
	}
	return ref, st, nil
}

// rotateToken is POST /token/<id>: the token presented (Authorization:
// GNAP <token>) is revoked and its successor issued, with the grant's
// access; answered once both are stored.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request) {
	if err := s.rotateTokenErr(w, r); err != nil {
		writeError(w, s.deps.Log, r, err)
	}
}

func (s *Server) rotateTokenErr(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ref, st, err := s.managed(r, body)
	if err != nil {
		return err
	}
	t, res, err := s.deps.Handler.Rotate(r.Context(), commands.RotateToken{
		Meta: meta(), GrantID: ref.GrantID, TokenID: chi.URLParam(r, "id"), TokenValue: gnapToken(r),
	})
	if err != nil {
		return err
	}
	if err := s.revoked(r.Context(), ref.GrantID, res.Sequence); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rotatedBody{AccessToken: s.accessToken(t, st.Access)})
	return nil
}

// revokeToken is DELETE /token/<id>.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := s.revokeTokenErr(r); err != nil {
		writeError(w, s.deps.Log, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) revokeTokenErr(r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ref, _, err := s.managed(r, body)
	if err != nil {
		return err
	}
	res, err := s.deps.Handler.RevokeToken(r.Context(), commands.RevokeToken{
		Meta: meta(), GrantID: ref.GrantID, TokenID: chi.URLParam(r, "id"), TokenValue: gnapToken(r),
	})
	if err != nil {
		return err
	}
	return s.revoked(r.Context(), ref.GrantID, res.Sequence)
}
