package authsvc

import (
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
)

// The bodies of Open Payments' auth server API, as Rafiki answers them.

type tokenValue struct {
	Value string `json:"value"`
}

type continueBody struct {
	AccessToken tokenValue `json:"access_token"`
	URI         string     `json:"uri"`
	Wait        *int64     `json:"wait,omitempty"`
}

type accessTokenBody struct {
	Value     string               `json:"value"`
	Manage    string               `json:"manage"`
	ExpiresIn int64                `json:"expires_in"`
	Access    []events.GrantAccess `json:"access"`
}

type subjectBody struct {
	SubIDs []events.GrantSubjectID `json:"sub_ids"`
}

type grantBody struct {
	AccessToken *accessTokenBody `json:"access_token,omitempty"`
	Continue    continueBody     `json:"continue"`
	Subject     *subjectBody     `json:"subject,omitempty"`
}

type interactBody struct {
	Redirect string `json:"redirect"`
	Finish   string `json:"finish"`
}

type pendingGrantBody struct {
	Interact interactBody `json:"interact"`
	Continue continueBody `json:"continue"`
}

type continuationBody struct {
	Continue continueBody `json:"continue"`
}

type rotatedBody struct {
	AccessToken *accessTokenBody `json:"access_token"`
}

// accessToken is a token as the client gets it, with the grant's access;
// none when there is no token or no access (a subject-only grant), as in
// Rafiki.
func (s *Server) accessToken(t *grant.AccessToken, access []events.GrantAccess) *accessTokenBody {
	if t == nil || len(access) == 0 {
		return nil
	}
	return &accessTokenBody{Value: t.Value, Manage: s.manageURI(t.ID), ExpiresIn: seconds(t.ExpiresIn), Access: access}
}

func subject(ids []events.GrantSubjectID) *subjectBody {
	if len(ids) == 0 {
		return nil
	}
	return &subjectBody{SubIDs: ids}
}
