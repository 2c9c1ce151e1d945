// Package introspection is token introspection between the authorization
// server and its resource servers (Rafiki's token-introspection API): the
// server's handler, the client the backend asks it with, and the cache both
// keep of active tokens.
//
// A positive answer is cached briefly (Hold), so that a resource server's
// calls with one token cost one lookup. No cached answer outlives what it
// tells: an entry ends at the token's expiry, and any event of the token's
// grant (a rotation, a revocation) removes every entry of that grant as soon
// as the cache sees it published on the grant's subject. An answer is cached
// only when no event of its grant was seen during the last Hold: an answer
// read from the grants read model just before the model applied that event
// would otherwise be kept after the event removed the entries. While the
// NATS connection is down the cache cannot see revocations, so it caches
// nothing; after it reconnects (or after NATS dropped events it could not
// take in time) it is emptied and caches nothing for a Hold.
package introspection
