// Package events holds the event catalogue: one Go type per domain event, the
// envelope every stored event travels in, and the codec between them.
package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Envelope is what the event store keeps for every event. The payload stays
// raw so that the store, projections and audit tools can route and print an
// event without knowing its Go type; Decode turns it into one.
type Envelope struct {
	ID            uuid.UUID `json:"id"`
	Type          string    `json:"type"`
	SchemaVersion int       `json:"schemaVersion"`
	AggregateType string    `json:"aggregateType"`
	AggregateID   string    `json:"aggregateId"`
	TenantID      string    `json:"tenantId"`
	Time          time.Time `json:"time"`
	CausationID   string    `json:"causationId,omitempty"`
	CorrelationID string    `json:"correlationId,omitempty"`
	// Actor is who sent the command: the signing tenant of an admin API
	// call (the operator's id for the operator), the tenant of an Open
	// Payments call; empty for the system's own work (expiry, sending).
	Actor string          `json:"actor,omitempty"`
	Data  json.RawMessage `json:"data"`

	// Sequence is the event's position in the stream. It is assigned by the
	// store on append and is not part of the stored payload.
	Sequence uint64 `json:"-"`
}

// Event is implemented by every type in the catalogue.
type Event interface {
	EventType() string
	SchemaVersion() int
}

// Meta is the context an event is recorded in: which aggregate, which tenant,
// and which command caused it.
type Meta struct {
	AggregateType string
	AggregateID   string
	TenantID      string
	CausationID   string
	CorrelationID string
	Actor         string
	Time          time.Time
}

// idNamespace scopes event ids derived from command ids.
var idNamespace = uuid.MustParse("5b0f4f3e-3a55-4a0c-9d4e-2f1b6f0c7a01")

// DeriveID gives the id of the index-th event caused by a command. A retried
// command therefore produces the same event ids, which the store de-duplicates.
func DeriveID(commandID string, index int) uuid.UUID {
	return uuid.NewSHA1(idNamespace, fmt.Appendf(nil, "%s/%d", commandID, index))
}

// Seal wraps events caused by one command into envelopes with ids derived
// from the command id and each event's index among the command's events.
func Seal(meta Meta, commandID string, firstIndex int, evs ...Event) ([]Envelope, error) {
	out := make([]Envelope, 0, len(evs))
	for i, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", ev.EventType(), err)
		}
		out = append(out, Envelope{
			ID:            DeriveID(commandID, firstIndex+i),
			Type:          ev.EventType(),
			SchemaVersion: ev.SchemaVersion(),
			AggregateType: meta.AggregateType,
			AggregateID:   meta.AggregateID,
			TenantID:      meta.TenantID,
			Time:          meta.Time.UTC(),
			CausationID:   meta.CausationID,
			CorrelationID: meta.CorrelationID,
			Actor:         meta.Actor,
			Data:          data,
		})
	}
	return out, nil
}
