package config

import (
	"fmt"
	"net/url"
)

// shippedSecrets are the secrets this repository ships or has shipped: the
// defaults of the configuration and every default or example secret of
// docker-compose.yml (which now has none), deploy/ and the documentation.
// Anyone can read them, so production refuses each (TestShippedSecretsAreRefused finds the ones in
// docker-compose.yml and deploy/, so that a new one cannot be forgotten
// here).
var shippedSecrets = map[string]bool{
	devAdminAPISecret:            true,
	devCookieKey:                 true,
	"change-me-admin-api-secret": true,
	"Y2hhbmdlLW1lLXN0cmVhbS1zZWNyZXQtMzItYnl0ZXM=": true, // "change-me-stream-secret-32-bytes"
	"change-me-backend-db":                         true,
	"change-me-auth-db":                            true,
}

// devAdminAPISecret is the operator's API secret outside production when
// ADMIN_API_SECRET is unset.
const devAdminAPISecret = "rafiki-dev-admin-secret"

// devCookieKey signs interaction session cookies outside production when
// COOKIE_KEY is unset.
const devCookieKey = "rafiki-dev-cookie-key"

// secretVariables are the variables that hold a secret themselves.
var secretVariables = []string{"ADMIN_API_SECRET", "STREAM_SECRET", "EVENT_SECRETS_KEY", "EVENT_SECRETS_KEY_PREVIOUS", "COOKIE_KEY", "IDENTITY_SERVER_SECRET"}

// urlVariables are the variables whose URLs may hold a password.
var urlVariables = []string{"DATABASE_URL", "AUTH_DATABASE_URL", "REDIS_URL"}

// Shipped reports whether a secret is one this repository ships.
func Shipped(secret string) bool { return shippedSecrets[secret] }

// refuseShippedSecrets fails when a secret variable, or a password in a
// URL variable, is one the repository ships.
func refuseShippedSecrets(r reader) error {
	for _, name := range secretVariables {
		if Shipped(r.str(name, "")) {
			return fmt.Errorf("config: %s is a default that ships with rafiki-go; production needs a secret of its own", name)
		}
	}
	for _, name := range urlVariables {
		u, err := url.Parse(r.str(name, ""))
		if err != nil || u.User == nil {
			continue
		}
		if password, ok := u.User.Password(); ok && Shipped(password) {
			return fmt.Errorf("config: the password in %s is a default that ships with rafiki-go; production needs one of its own", name)
		}
	}
	return nil
}
