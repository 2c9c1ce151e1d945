// Package commands is the catalogue of commands: plain structs that carry an
// intent and who asked for it. Handlers decide what events they cause.
package commands

// Actor is who sends a command: a tenant, and whether it is the operator.
type Actor struct {
	TenantID string
	Operator bool
}

// CanActFor tells whether the actor may change objects of tenantID.
func (a Actor) CanActFor(tenantID string) bool {
	return a.Operator || a.TenantID == tenantID
}

// Meta travels with every command. ID identifies the command: event ids and
// ledger transfer ids derive from it, so a retried command is recognised.
type Meta struct {
	ID            string
	CorrelationID string
	Actor         Actor
}
