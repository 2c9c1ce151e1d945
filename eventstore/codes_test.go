package eventstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func TestServerErrorCodes(t *testing.T) {
	api := func(code jetstream.ErrorCode) error {
		return fmt.Errorf("publish: %w", &jetstream.APIError{Code: 400, ErrorCode: code, Description: "x"})
	}
	tests := []struct {
		name      string
		err       error
		conflict  bool
		inProcess bool
	}{
		{"wrong last sequence", api(10071), true, false},
		{"batch expectation", api(10164), true, false},
		{"batch duplicate", api(10201), true, false},
		{"duplicate in process", api(codeDuplicateInProcess), false, true},
		{"text only", errors.New("nats: wrong last sequence: 4"), true, false},
		{"other", api(10060), false, false},
		{"not an API error", errors.New("timeout"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isConflictCode(tt.err); got != tt.conflict {
				t.Errorf("isConflictCode = %v, want %v", got, tt.conflict)
			}
			if got := hasErrorCode(tt.err, codeDuplicateInProcess); got != tt.inProcess {
				t.Errorf("in process = %v, want %v", got, tt.inProcess)
			}
		})
	}
	if hasErrorCode(nil, codeDuplicateInProcess) {
		t.Error("nil has a code")
	}
}
