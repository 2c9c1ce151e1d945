package authsvc

import (
	"crypto/subtle"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// idpSecretHeader carries the tenant's identity provider secret.
const idpSecretHeader = "X-Idp-Secret"

// secretMatches compares in constant time, so that the answer's timing
// tells nothing of the secret.
func secretMatches(presented, secret string) bool {
	return presented != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(secret)) == 1
}

type grantDetailsBody struct {
	GrantID string               `json:"grantId"`
	Access  []events.GrantAccess `json:"access"`
	Subject *subjectBody         `json:"subject,omitempty"`
	State   string               `json:"state"`
}

// grantDetails is GET /grant/<id>/<nonce>: the identity provider reads
// what the resource owner is asked to grant.
func (s *Server) grantDetails(w http.ResponseWriter, r *http.Request) {
	if err := s.grantDetailsErr(w, r); err != nil {
		writeError(w, s.deps.Log, r, err)
	}
}

func (s *Server) grantDetailsErr(w http.ResponseWriter, r *http.Request) error {
	ref, st, found, err := s.interaction(r)
	if err != nil {
		return err
	}
	if !found || st.Revoked() {
		return refusal(grant.UnknownInteraction, apperr.NotFound, "unknown interaction")
	}
	tenant, err := s.deps.Tenants.Get(r.Context(), ref.TenantID)
	if err != nil {
		return err
	}
	if !tenant.Active {
		return refusal(grant.UnknownInteraction, apperr.NotFound, "unknown interaction")
	}
	if !tenant.HasIDP() {
		return refusal(grant.InvalidRequest, apperr.Internal, "internal server error")
	}
	if !secretMatches(r.Header.Get(idpSecretHeader), tenant.IDPSecret) {
		return refusal(grant.InvalidRequest, apperr.Unauthenticated, "invalid x-idp-secret")
	}
	access := st.Access
	if access == nil {
		access = []events.GrantAccess{}
	}
	writeJSON(w, http.StatusOK, grantDetailsBody{
		GrantID: st.ID, Access: access, Subject: subject(st.Subject), State: st.Interaction.State,
	})
	return nil
}

// choose is POST /grant/<id>/<nonce>/<accept|reject>: the identity
// provider's answer for the resource owner.
func (s *Server) choose(w http.ResponseWriter, r *http.Request) {
	if err := s.chooseErr(r); err != nil {
		writeError(w, s.deps.Log, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) chooseErr(r *http.Request) error {
	ref, st, found, err := s.interaction(r)
	if err != nil {
		return err
	}
	unknown := refusal(grant.UnknownInteraction, apperr.NotFound, "unknown interaction")
	if !found {
		return unknown
	}
	tenant, err := s.deps.Tenants.Get(r.Context(), ref.TenantID)
	if err != nil {
		return err
	}
	if !tenant.HasIDP() {
		return unknown
	}
	if !secretMatches(r.Header.Get(idpSecretHeader), tenant.IDPSecret) {
		return refusal(grant.InvalidInteraction, apperr.Unauthenticated, "invalid x-idp-secret")
	}
	c := commands.InteractionChoice{Meta: meta(), GrantID: ref.GrantID, InteractionID: st.Interaction.ID, Nonce: st.Interaction.Nonce}
	switch chi.URLParam(r, "choice") {
	case "accept":
		_, err = s.deps.Handler.Accept(r.Context(), c)
	case "reject":
		_, err = s.deps.Handler.Reject(r.Context(), c)
	default:
		err = refusal(grant.InvalidRequest, apperr.InvalidInput, "invalid interaction choice")
	}
	return err
}
