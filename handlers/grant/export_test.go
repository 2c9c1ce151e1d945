package grant

// DerivedGrantID is the id of the grant a request with this command id makes.
func DerivedGrantID(commandID string) string { return derived("grant", commandID) }
