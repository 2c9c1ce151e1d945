package grant

import "time"

// Policy is the auth server's configuration that decisions depend on, by
// Rafiki's environment variables.
type Policy struct {
	// AuthServerURL (AUTH_SERVER_URL) makes the grant endpoint the finish
	// hash covers.
	AuthServerURL string
	// IncomingPaymentInteraction (INCOMING_PAYMENT_INTERACTION, false) and
	// QuoteInteraction (QUOTE_INTERACTION, false) make grants of those types
	// interactive; ListAllInteraction (LIST_ALL_ACCESS_INTERACTION, true)
	// makes any grant asking for list-all interactive.
	IncomingPaymentInteraction bool
	QuoteInteraction           bool
	ListAllInteraction         bool
	// Wait (WAIT_SECONDS, 5) is how long a client must wait between
	// continuation requests.
	Wait time.Duration
	// AccessTokenExpiry (ACCESS_TOKEN_EXPIRY_SECONDS, 600) is a token's
	// lifetime; InteractionExpiry (INTERACTION_EXPIRY_SECONDS, 600) how long
	// the resource owner has to answer.
	AccessTokenExpiry time.Duration
	InteractionExpiry time.Duration
}

// DefaultPolicy is Rafiki's defaults.
func DefaultPolicy(authServerURL string) Policy {
	return Policy{
		AuthServerURL: authServerURL, ListAllInteraction: true, Wait: 5 * time.Second,
		AccessTokenExpiry: 10 * time.Minute, InteractionExpiry: 10 * time.Minute,
	}
}

// Fresh are the ids and random values a command may hand out; the handler
// makes them before deciding, so that decisions stay pure. Ids derive from
// the command's id (a retry names the same objects); values are random and
// leave the server only in the answer to the command.
type Fresh struct {
	ContinueID    string
	ContinueToken string
	InteractionID string
	InteractNonce string
	InteractRef   string
	TokenID       string
	TokenValue    string
}
