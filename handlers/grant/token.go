package grant

// liveToken finds the unrevoked token a client manages, proving itself
// with the token's value.
func liveToken(s State, tokenID, value string) (Token, bool) {
	t, ok := s.Tokens[tokenID]
	return t, ok && s.Exists && !s.Revoked() && tokenMatches(value, t.ValueHash)
}
