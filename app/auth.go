package app

import (
	"github.com/rafiki-go/rafiki/authstore"
	"github.com/rafiki-go/rafiki/projections"
)

// Auth is what the auth service reads in a process: its read model, and
// the checkpoints of its database, which lookups that miss wait on.
type Auth struct {
	Waiter *projections.Waiter
	Grants *authstore.Store
}

// NewAuth builds the auth service's reader on open connections; the
// waiter's Run must be running for lookups that miss to catch up.
func NewAuth(d *Deps) *Auth {
	waiter := projections.NewWaiter(d.AuthPool, d.Log)
	return &Auth{Waiter: waiter, Grants: authstore.New(d.AuthPool, d.Store, waiter, d.Config.ReadYourWritesTimeout)}
}
