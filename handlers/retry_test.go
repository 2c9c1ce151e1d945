package handlers_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
)

// A command that loses every race is refused Conflict, marked contended so
// that a caller can tell it from the aggregate's own refusal; a refusal is
// answered at once and not marked.
func TestRetryMarksContention(t *testing.T) {
	tries := 0
	_, err := handlers.Retry(context.Background(), func() (handlers.Result, error) {
		tries++
		return handlers.Result{}, &eventstore.ConflictError{}
	})
	if apperr.KindOf(err) != apperr.Conflict || !errors.Is(err, handlers.ErrContended) || tries < 2 {
		t.Fatalf("after %d tries: %v (%s)", tries, err, apperr.KindOf(err))
	}
	refused := apperr.E(apperr.Conflict, "wrong state")
	tries = 0
	_, err = handlers.Retry(context.Background(), func() (handlers.Result, error) {
		tries++
		return handlers.Result{}, refused
	})
	if !errors.Is(err, refused) || errors.Is(err, handlers.ErrContended) || tries != 1 {
		t.Fatalf("a refusal after %d tries: %v", tries, err)
	}
}
