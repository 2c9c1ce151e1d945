package sender

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/connector/ilp"
)

func TestHTTP(t *testing.T) {
	reject := ilp.Reject{Code: ilp.CodeUnreachable, TriggeredBy: "test.peer", Message: "no route"}
	rejectBytes, err := ilp.EncodeReject(reject)
	if err != nil {
		t.Fatal(err)
	}
	prepare := ilp.Prepare{Amount: 5, ExpiresAt: time.Now().Add(time.Minute).Truncate(time.Millisecond), Destination: "test.receiver.x", Data: []byte("d")}
	prepareBytes, err := ilp.EncodePrepare(prepare)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		token  string
		answer []byte
		status int
		want   ilp.Packet
		err    string
	}{
		{"a reject", "good", rejectBytes, http.StatusOK, reject, ""},
		{"a wrong token", "bad", nil, http.StatusUnauthorized, nil, "answered 401"},
		{"a prepare for an answer", "good", prepareBytes, http.StatusOK, nil, "answered a prepare"},
		{"bytes that are no packet", "good", []byte{14, 1}, http.StatusOK, nil, "ILP over HTTP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer good" {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				if r.Header.Get("Content-Type") != "application/octet-stream" {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				body, _ := io.ReadAll(r.Body)
				got, err := ilp.DecodePrepare(body)
				if err != nil || got.Amount != prepare.Amount || got.Destination != prepare.Destination || !got.ExpiresAt.Equal(prepare.ExpiresAt) {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write(tt.answer)
			}))
			defer srv.Close()
			got, err := HTTP(srv.Client(), srv.URL, tt.token)(context.Background(), prepare)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rj, ok := got.(ilp.Reject)
			want := tt.want.(ilp.Reject)
			if !ok || rj.Code != want.Code || rj.Message != want.Message || rj.TriggeredBy != want.TriggeredBy {
				t.Fatalf("answer %+v, want %+v", got, tt.want)
			}
		})
	}
}
