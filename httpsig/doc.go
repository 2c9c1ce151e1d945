// Package httpsig signs and verifies HTTP requests under the Open Payments
// profile of HTTP message signatures (RFC 9421): one signature labelled
// sig1, Ed25519, covering "@method" and "@target-uri", "authorization" when
// the request carries one, and "content-digest", "content-length" and
// "content-type" when it has a body; parameters keyid and created. The GNAP
// authorization server (authsvc) and the resource server both verify with
// it; clients of other wallets' servers sign with it.
//
// The package parses the Signature-Input, Signature and Content-Digest
// fields itself rather than through a general RFC 9421 library. The profile
// is narrow (one label, six components, one algorithm), and a verifier that
// knows only it refuses everything else instead of having to be configured
// into strictness: no second signature to confuse which one was checked, no
// component parameters (";sf", ";bs", ";req") that change what a component
// means, no algorithm named by the request. The parser is a strict subset of
// RFC 8941 structured fields; FuzzParseSignatureHeaders holds it to that.
//
// Beyond what Rafiki checks, Verify refuses a signature whose created is
// older than Options.Window or further than Options.Skew in the future, and
// one seen before (ReplayGuard, in Redis). Client keys come from a KeySource:
// an inline JWK (InlineKey, for grant requests that carry their key) or the
// client's wallet address's jwks.json (JWKSFetcher, cached for a short time
// and fetched again, at most once per MinRefetch, when a kid is unknown).
//
// Errors are *Error values with a stable Reason. Their apperr kind is
// Unauthenticated (HTTP 401; GNAP invalid_client at the authorization
// server, Open Payments 401 at the resource server), except
// ReasonReplayGuardUnavailable, which is Unavailable (503): the request may
// be fine, but without the replay guard it cannot be accepted.
package httpsig
