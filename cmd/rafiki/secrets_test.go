package main

import (
	"strings"
	"testing"
)

func TestSecretsShredNamesAnAggregateWithSecrets(t *testing.T) {
	for _, args := range [][]string{{"shred", "quote", "0b6f2a86-8c3f-4a53-9d0b-3f1f6a8a5e10"}, {"shred", "tenant"}, {"rewrap", "now"}, {}} {
		if err := secretsCommand(args); err == nil || !strings.Contains(err.Error(), secretsUsage) {
			t.Errorf("rafiki secrets %v: %v, want the usage", args, err)
		}
	}
}
