package authsvc

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// interaction finds the grant whose interaction the URL names by id and
// nonce; found is false when there is none.
func (s *Server) interaction(r *http.Request) (ref GrantRef, st grant.State, found bool, err error) {
	id, nonce := chi.URLParam(r, "id"), chi.URLParam(r, "nonce")
	ref, found, err = s.deps.Lookup.ByInteractionID(r.Context(), id)
	if err != nil || !found {
		return GrantRef{}, grant.State{}, false, err
	}
	if st, err = s.loadGrant(r.Context(), ref); err != nil {
		return GrantRef{}, grant.State{}, false, err
	}
	i := st.Interaction
	if !st.Exists || i == nil || i.ID != id || subtle.ConstantTimeCompare([]byte(i.Nonce), []byte(nonce)) != 1 {
		return GrantRef{}, grant.State{}, false, nil
	}
	return ref, st, true, nil
}

// redirect sends the browser to base with params added to its query.
func redirect(w http.ResponseWriter, r *http.Request, base string, params map[string]string) error {
	u, err := url.Parse(base)
	if err != nil {
		return refusal(grant.RequestDenied, apperr.Internal, "internal server error")
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
	return nil
}

// toClient sends the browser back to the client's finish URI with a
// result instead of an error page, as Rafiki does for finishable grants.
func toClient(w http.ResponseWriter, r *http.Request, st grant.State, result, message string) error {
	return redirect(w, r, st.Interact.Finish.URI, map[string]string{"result": result, "message": message})
}

// startInteraction is GET /interact/<id>/<nonce>: the resource owner's
// browser, sent by the client, is given a session holding the nonce and
// sent on to the tenant's identity provider.
func (s *Server) startInteraction(w http.ResponseWriter, r *http.Request) {
	if err := s.startInteractionErr(w, r); err != nil {
		writeError(w, s.deps.Log, r, err)
	}
}

func (s *Server) startInteractionErr(w http.ResponseWriter, r *http.Request) error {
	ref, st, found, err := s.interaction(r)
	if err != nil {
		return err
	}
	if !found {
		return refusal(grant.UnknownInteraction, apperr.InvalidInput, "unknown interaction")
	}
	if st.Interaction.State != events.InteractionStatePending || st.Revoked() {
		if st.Finishable() {
			return toClient(w, r, st, string(grant.InvalidInteraction), "invalid interaction")
		}
		return refusal(grant.InvalidInteraction, apperr.Forbidden, "invalid interaction")
	}
	now := time.Now()
	if st.Interaction.ExpiredAt(now) {
		// The resource owner would only be asked for a consent that the
		// accept then refuses.
		if st.Finishable() {
			return toClient(w, r, st, string(grant.InvalidInteraction), "interaction expired")
		}
		return refusal(grant.InvalidInteraction, apperr.Unauthenticated, "interaction expired")
	}
	tenant, err := s.deps.Tenants.Get(r.Context(), ref.TenantID)
	if err != nil {
		return err
	}
	if !tenant.Active {
		if st.Finishable() {
			return toClient(w, r, st, string(grant.UnknownInteraction), "unknown interaction")
		}
		return refusal(grant.UnknownInteraction, apperr.NotFound, "unknown interaction")
	}
	if !tenant.HasIDP() {
		if st.Finishable() {
			return toClient(w, r, st, string(grant.RequestDenied), "internal server error")
		}
		return refusal(grant.RequestDenied, apperr.Internal, "internal server error")
	}
	// The consent page names the grant's client, as its wallet address
	// names itself now: the redirect URL's clientName and clientUri passed
	// through the client, which could have put another's there.
	name, err := s.clientName(r.Context(), st.Client.WalletAddress)
	var unavailable *apperr.Error
	if errors.As(err, &unavailable) && unavailable.Kind == apperr.Unavailable {
		return err
	}
	if err != nil {
		s.deps.Log.Debug("client display name unavailable", "client", st.Client.WalletAddress, "err", err)
		return refusal(grant.InvalidClient, apperr.InvalidInput, "the client's wallet address could not be read")
	}
	s.setSession(w, st.Interaction.Nonce, now)
	return redirect(w, r, tenant.IDPConsentURL, map[string]string{
		"interactId": st.Interaction.ID, "nonce": st.Interaction.Nonce,
		"clientName": name, "clientUri": st.Client.WalletAddress,
	})
}

// finishInteraction is GET /interact/<id>/<nonce>/finish: the browser
// comes back from the identity provider, in the session it started with.
// An approved interaction approves the grant and sends the browser to the
// client's finish URI with the interaction hash and reference; a rejected
// one finalizes it and says grant_rejected; without a finish URI the
// answer is 202.
func (s *Server) finishInteraction(w http.ResponseWriter, r *http.Request) {
	if err := s.finishInteractionErr(w, r); err != nil {
		writeError(w, s.deps.Log, r, err)
	}
}

func (s *Server) finishInteractionErr(w http.ResponseWriter, r *http.Request) error {
	ref, st, found, err := s.interaction(r)
	if err != nil {
		return err
	}
	if !found {
		return refusal(grant.UnknownInteraction, apperr.NotFound, "unknown interaction")
	}
	now := time.Now()
	if st.Interaction.ExpiredAt(now) {
		if st.Finishable() {
			return toClient(w, r, st, string(grant.InvalidInteraction), "interaction expired")
		}
		return refusal(grant.InvalidInteraction, apperr.Unauthenticated, "interaction expired")
	}
	if nonce := s.sessionNonce(r, now); nonce == "" || subtle.ConstantTimeCompare([]byte(nonce), []byte(st.Interaction.Nonce)) != 1 {
		return refusal(grant.InvalidRequest, apperr.Unauthenticated, "invalid session")
	}
	if st.Revoked() {
		if st.Finishable() {
			return toClient(w, r, st, string(grant.UnknownInteraction), "unknown interaction")
		}
		return refusal(grant.UnknownInteraction, apperr.NotFound, "unknown interaction")
	}
	out, _, err := s.deps.Handler.Finish(r.Context(), commands.FinishInteraction{
		Meta: meta(), GrantID: ref.GrantID, InteractionID: st.Interaction.ID, Nonce: st.Interaction.Nonce,
	})
	var ge *grant.Error
	if errors.As(err, &ge) && ge.Code == grant.InvalidInteraction && st.Finishable() {
		return redirect(w, r, st.Interact.Finish.URI, map[string]string{"result": "grant_invalid"})
	}
	if err != nil {
		return err
	}
	switch {
	case out.FinishURI == "":
		w.WriteHeader(http.StatusAccepted)
		return nil
	case out.Approved:
		return redirect(w, r, out.FinishURI, map[string]string{"hash": out.Hash, "interact_ref": out.InteractRef})
	default:
		return redirect(w, r, out.FinishURI, map[string]string{"result": "grant_rejected"})
	}
}
