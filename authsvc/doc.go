// Package authsvc is the GNAP authorization server: grant requests,
// continuation, token management, the resource owner's interaction and the
// identity provider's API, over the grant aggregate of handlers/grant.
package authsvc
