// Package apperr is the one table of errors that cross the wire. Each kind
// has a stable numeric id and its code in every protocol we speak; the table
// lives in errors.json so that clients and docs can read it too.
package apperr

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
)

// Kind names a row of errors.json.
type Kind string

const (
	InvalidInput     Kind = "InvalidInput"
	Unauthenticated  Kind = "Unauthenticated"
	Forbidden        Kind = "Forbidden"
	NotFound         Kind = "NotFound"
	Duplicate        Kind = "Duplicate"
	Conflict         Kind = "Conflict"
	Inactive         Kind = "Inactive"
	Timeout          Kind = "Timeout"
	Unavailable      Kind = "Unavailable"
	MethodNotAllowed Kind = "MethodNotAllowed"
	Internal         Kind = "Internal"
)

// Row is one entry of the table.
type Row struct {
	Constant    Kind   `json:"constant"`
	ID          int    `json:"id"`
	GraphQL     string `json:"graphql"`
	HTTP        int    `json:"http"`
	Description string `json:"description"`
}

//go:embed errors.json
var tableJSON []byte

var table = func() map[Kind]Row {
	var rows []Row
	if err := json.Unmarshal(tableJSON, &rows); err != nil {
		panic("apperr: errors.json: " + err.Error())
	}
	out := make(map[Kind]Row, len(rows))
	for _, r := range rows {
		out[r.Constant] = r
	}
	return out
}()

// Lookup returns the table row of a kind; unknown kinds read as Internal.
func Lookup(k Kind) Row {
	if r, ok := table[k]; ok {
		return r
	}
	return table[Internal]
}

// Rows returns the whole table.
func Rows() []Row {
	var rows []Row
	_ = json.Unmarshal(tableJSON, &rows)
	return rows
}

// Error is a failure a caller can act on: its message is safe to show.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

// E builds an Error with a formatted message.
func E(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// KindOf finds the kind of the first Error in err's chain. The failure of a
// service the request needs (a database, the event store or the cache gone,
// or not answering before the request's deadline) is Unavailable. Any other
// error is Internal, and its text must not reach the caller.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if unavailable(err) {
		return Unavailable
	}
	return Internal
}

// unavailableMessage is what a caller is told when a service its request
// needs failed; which one, and how, is in the server log.
const unavailableMessage = "A service this request needs (database, event store or cache) did not answer, or not in time. " +
	"Retry it; if it changes something, with the same idempotency key, so that a change already stored is not made twice."

// Message is what a caller may be told about err.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	if unavailable(err) {
		return unavailableMessage
	}
	return "Internal error."
}
