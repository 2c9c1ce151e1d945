package authsvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// grantRequestBody is a GNAP grant request as Open Payments clients send
// it. client is a wallet address URL, {walletAddress} or {jwk}.
type grantRequestBody struct {
	AccessToken *struct {
		Access []events.GrantAccess `json:"access"`
	} `json:"access_token"`
	Client   json.RawMessage       `json:"client"`
	Interact *events.GrantInteract `json:"interact"`
	Subject  *struct {
		SubIDs []events.GrantSubjectID `json:"sub_ids"`
	} `json:"subject"`
}

// parseGrantRequest reads a grant request's body into its command.
func parseGrantRequest(body []byte, tenantID string) (commands.RequestGrant, error) {
	var b grantRequestBody
	if err := json.Unmarshal(body, &b); err != nil {
		return commands.RequestGrant{}, refusal(grant.InvalidRequest, apperr.InvalidInput, "invalid grant request body")
	}
	c := commands.RequestGrant{TenantID: tenantID, Interact: b.Interact}
	if b.AccessToken != nil {
		c.Access = b.AccessToken.Access
	}
	if b.Subject != nil {
		c.Subject = b.Subject.SubIDs
	}
	client, err := parseClient(b.Client)
	if err != nil {
		return commands.RequestGrant{}, err
	}
	c.Client = client
	return c, nil
}

func parseClient(raw json.RawMessage) (events.GrantClient, error) {
	missing := refusal(grant.InvalidRequest, apperr.InvalidInput, "missing required request field 'client'")
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return events.GrantClient{}, missing
	}
	var c events.GrantClient
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &c.WalletAddress); err != nil {
			return events.GrantClient{}, missing
		}
	} else if err := json.Unmarshal(raw, &c); err != nil {
		return events.GrantClient{}, refusal(grant.InvalidClient, apperr.InvalidInput, "invalid client")
	}
	if (c.WalletAddress == "") == (len(c.JWK) == 0) {
		return events.GrantClient{}, refusal(grant.InvalidClient, apperr.InvalidInput, "client must be a wallet address or a jwk")
	}
	return c, nil
}

// requestGrant is POST /<tenant id>: the request is signed with the
// client's key (its wallet address's jwks.json, or the jwk it carries),
// then decided by the grant handler.
func (s *Server) requestGrant(w http.ResponseWriter, r *http.Request) {
	if err := s.requestGrantErr(w, r); err != nil {
		writeError(w, s.deps.Log, r, err)
	}
}

func (s *Server) requestGrantErr(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	c, err := parseGrantRequest(body, chi.URLParam(r, "tenantID"))
	if err != nil {
		return err
	}
	if err := s.verify(r, body, c.Client); err != nil {
		return err
	}
	tenant, err := s.deps.Tenants.Get(r.Context(), c.TenantID)
	if err != nil {
		return err
	}
	if !tenant.Active {
		return refusal(grant.InvalidRequest, apperr.NotFound, "Not Found")
	}
	interactive, err := grant.Interactive(c, s.cfg.Policy)
	if err != nil {
		return err
	}
	var clientName string
	if interactive && c.Interact != nil && tenant.HasIDP() && c.Client.WalletAddress != "" {
		name, err := s.clientName(r.Context(), c.Client.WalletAddress)
		var unavailable *apperr.Error
		if errors.As(err, &unavailable) && unavailable.Kind == apperr.Unavailable {
			return err
		}
		if err != nil {
			s.deps.Log.Debug("client display name unavailable", "client", c.Client.WalletAddress, "err", err)
		}
		if name == "" {
			return refusal(grant.InvalidClient, apperr.InvalidInput, "missing required request field 'client'")
		}
		clientName = name
	}
	c.Meta = meta()
	out, err := s.deps.Handler.Request(withTenant(r.Context(), c.TenantID, tenant), c)
	if err != nil {
		return err
	}
	cont := continueBody{AccessToken: tokenValue{Value: out.ContinueToken}, URI: s.continueURI(out.ContinueID)}
	if out.InteractionID != "" {
		wait := seconds(out.Wait)
		cont.Wait = &wait
		redirect := s.cfg.AuthServerURL + "/interact/" + out.InteractionID + "/" + out.InteractNonce + "?" +
			url.Values{"clientName": {clientName}, "clientUri": {c.Client.WalletAddress}}.Encode()
		writeJSON(w, http.StatusOK, pendingGrantBody{
			Interact: interactBody{Redirect: redirect, Finish: out.InteractNonce}, Continue: cont,
		})
		return nil
	}
	writeJSON(w, http.StatusOK, grantBody{AccessToken: s.accessToken(out.AccessToken, c.Access), Continue: cont})
	return nil
}
