package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// productionEnv sets a production environment with secrets of its own.
func productionEnv(t *testing.T) {
	t.Helper()
	t.Setenv("NODE_ENV", "production")
	t.Setenv("ADMIN_API_SECRET", "an-operator-secret-of-its-own")
	t.Setenv("STREAM_SECRET", base64.StdEncoding.EncodeToString([]byte("a-stream-secret-of-its-own-32-by")))
	t.Setenv("EVENT_SECRETS_KEY", base64.StdEncoding.EncodeToString([]byte("an-event-secrets-key-its-own-32b")))
	t.Setenv("EVENT_SECRETS_KEY_PREVIOUS", "")
	t.Setenv("DATABASE_URL", "postgresql://rafiki:own-password@db:5432/rafiki_backend")
	t.Setenv("AUTH_DATABASE_URL", "postgresql://rafiki:own-password@db:5432/rafiki_auth")
	t.Setenv("REDIS_URL", "redis://redis:6379")
}

func TestProductionRefusesEveryShippedSecret(t *testing.T) {
	productionEnv(t)
	if _, err := Load("backend"); err != nil {
		t.Fatalf("production with secrets of its own: %v", err)
	}
	t.Setenv("EVENT_SECRETS_KEY", "")
	if _, err := Load("backend"); err == nil || !strings.Contains(err.Error(), "EVENT_SECRETS_KEY") {
		t.Fatalf("production without EVENT_SECRETS_KEY: %v", err)
	}
	for secret := range shippedSecrets {
		for _, name := range append(secretVariables, urlVariables...) {
			value := secret
			switch name {
			case "DATABASE_URL", "AUTH_DATABASE_URL":
				value = "postgresql://rafiki:" + secret + "@db:5432/rafiki"
			case "REDIS_URL":
				value = "redis://:" + secret + "@redis:6379"
			}
			t.Run(name+"="+secret, func(t *testing.T) {
				productionEnv(t)
				t.Setenv(name, value)
				if _, err := Load("backend"); err == nil || !strings.Contains(err.Error(), name) {
					t.Fatalf("production with %s=%s: %v", name, value, err)
				}
			})
		}
	}
}

// Secret-looking variable names: a default for one of these in the
// repository's deployment files must be a shipped secret, refused in
// production.
var secretName = regexp.MustCompile(`(?i)(SECRET|PASSWORD|PASSWD|TOKEN|_KEY)`)

var (
	// ${NAME:-default} and ${NAME-default}
	defaultPattern = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-)([^}]*)\}`)
	// NAME: value and NAME=value, outside ${…}
	assignPattern = regexp.MustCompile(`(?m)^\s*-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*"?([^"\s#]+)"?`)
	// user:password@ in a URL
	urlPasswordPattern = regexp.MustCompile(`://[^:/@\s]*:([^@\s]+)@`)
)

// shippedIn lists the secrets a deployment file sets by default.
func shippedIn(text string) []string {
	var out []string
	for _, m := range defaultPattern.FindAllStringSubmatch(text, -1) {
		if secretName.MatchString(m[1]) {
			out = append(out, m[3])
		}
	}
	for _, m := range assignPattern.FindAllStringSubmatch(text, -1) {
		if secretName.MatchString(m[1]) && !strings.HasPrefix(m[2], "${") {
			out = append(out, m[2])
		}
	}
	for _, m := range urlPasswordPattern.FindAllStringSubmatch(text, -1) {
		if !strings.HasPrefix(m[1], "${") {
			out = append(out, m[1])
		}
	}
	return out
}

func TestShippedSecretsAreRefused(t *testing.T) {
	files := []string{"../docker-compose.yml"}
	if err := filepath.WalkDir("../deploy", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range shippedIn(string(data)) {
			if !Shipped(secret) {
				t.Errorf("%s ships the secret %q, which production does not refuse: add it to shippedSecrets", f, secret)
			}
		}
	}
}

// The scan finds each way a deployment file can carry a secret.
func TestShippedInFindsDefaults(t *testing.T) {
	text := `
  ADMIN_API_SECRET: ${ADMIN_API_SECRET:-a}
  STREAM_SECRET: ${STREAM_SECRET-b}
  POSTGRES_PASSWORD: c
  - EVENT_SECRETS_KEY=d
  DATABASE_URL: postgresql://rafiki:e@postgres:5432/db
  REDIS_URL: redis://:${REDIS_PASSWORD:?set it}@redis:6379
  LOG_LEVEL: ${LOG_LEVEL:-info}
  ADMIN_API_SECRET: ${ADMIN_API_SECRET:?set ADMIN_API_SECRET}
`
	got := strings.Join(shippedIn(text), ",")
	if got != "a,b,c,d,e" {
		t.Fatalf("found %s, want a,b,c,d,e", got)
	}
}
