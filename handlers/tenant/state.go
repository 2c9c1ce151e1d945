// Package tenant handles the tenant aggregate's commands.
package tenant

import (
	"time"

	"github.com/rafiki-go/rafiki/events"
)

// AggregateType names tenants in subjects and envelopes.
const AggregateType = "tenant"

// State is a tenant as its events leave it.
type State struct {
	Exists        bool
	ID            string
	Email         string
	APISecret     string
	IDPConsentURL string
	IDPSecret     string
	PublicName    string
	Settings      map[string]string
	CreatedAt     time.Time
	DeletedAt     *time.Time
}

// Evolve applies one event to the state.
func Evolve(s State, env events.Envelope, ev events.Event) State {
	switch e := ev.(type) {
	case *events.TenantCreated:
		s = State{
			Exists: true, ID: env.AggregateID, Email: e.Email, APISecret: e.APISecret,
			IDPConsentURL: e.IDPConsentURL, IDPSecret: e.IDPSecret, PublicName: e.PublicName,
			Settings: map[string]string{}, CreatedAt: env.Time,
		}
		for _, st := range e.Settings {
			s.Settings[st.Key] = st.Value
		}
	case *events.TenantUpdated:
		set(&s.Email, e.Email)
		set(&s.APISecret, e.APISecret)
		set(&s.IDPConsentURL, e.IDPConsentURL)
		set(&s.IDPSecret, e.IDPSecret)
		set(&s.PublicName, e.PublicName)
	case *events.TenantSettingsSet:
		settings := make(map[string]string, len(s.Settings)+len(e.Settings))
		for k, v := range s.Settings {
			settings[k] = v
		}
		for _, st := range e.Settings {
			settings[st.Key] = st.Value
		}
		s.Settings = settings
	case *events.TenantDeleted:
		at := env.Time
		s.DeletedAt = &at
	}
	return s
}

func set(field *string, value *string) {
	if value != nil {
		*field = *value
	}
}

// Active is a tenant that exists and is not deleted.
func (s State) Active() bool { return s.Exists && s.DeletedAt == nil }
