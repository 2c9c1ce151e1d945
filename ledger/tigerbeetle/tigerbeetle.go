// Package tigerbeetle implements ledger.Ledger on a TigerBeetle cluster, with
// Rafiki's layout: account id = the model's UUID as a u128 (the settlement
// account's id is its ledger number), ledger = the asset's ledger, code = the
// account or transfer type, account user_data_128 = the asset id, transfer
// user_data_128 = the transfer reference.
//
// The Go client links a bundled native library, so this package needs cgo.
package tigerbeetle

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
	tb "github.com/tigerbeetle/tigerbeetle-go"

	"github.com/rafiki-go/rafiki/ledger"
)

// batchSizeMax is the most events (or results) one TigerBeetle request
// carries.
const batchSizeMax = 8189

// Options say which cluster to use.
type Options struct {
	// ClusterID is the id the replicas were formatted with. Rafiki reads it
	// from TIGERBEETLE_CLUSTER_ID as a number, so 64 bits are enough.
	ClusterID uint64
	// Addresses are every replica's address ("3000", "10.0.0.1:3000"), as
	// in TIGERBEETLE_REPLICA_ADDRESSES.
	Addresses []string
}

// Ledger is ledger.Ledger on TigerBeetle. It keeps no state of its own, and
// one value is safe for concurrent use: the client batches concurrent calls.
type Ledger struct {
	client tb.Client
	close  sync.Once // the native client must be freed once
}

var _ ledger.Ledger = (*Ledger)(nil)

// New connects to the cluster and checks that it answers within ctx.
func New(ctx context.Context, opts Options) (*Ledger, error) {
	if len(opts.Addresses) == 0 {
		return nil, errors.New("tigerbeetle: no replica addresses")
	}
	client, err := tb.NewClient(tb.ToUint128(opts.ClusterID), opts.Addresses)
	if err != nil {
		return nil, fmt.Errorf("tigerbeetle: client for cluster %d at %v: %w", opts.ClusterID, opts.Addresses, err)
	}
	// The client does not contact the cluster until the first request, and
	// a request waits for the cluster indefinitely, so a wrong address or
	// cluster id would otherwise show up as a hang later. Nop stays local,
	// hence a real (tiny) query.
	_, err = call(ctx, func() ([]tb.Account, error) {
		return client.QueryAccounts(tb.QueryFilter{Limit: 1})
	})
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("tigerbeetle: reach cluster %d at %v: %w", opts.ClusterID, opts.Addresses, err)
	}
	return &Ledger{client: client}, nil
}

// Close releases the client; requests still in flight fail. Calling it
// again does nothing.
func (l *Ledger) Close() { l.close.Do(l.client.Close) }

// call runs one client request and stops waiting for it when ctx ends. The
// client cannot cancel a request, so it may still complete afterwards; every
// id we send is idempotent, so a retry then finds it done.
func call[T any](ctx context.Context, request func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type reply struct {
		value T
		err   error
	}
	done := make(chan reply, 1) // buffered: the request never blocks on an abandoned wait
	go func() {
		value, err := request()
		done <- reply{value, err}
	}()
	select {
	case r := <-done:
		return r.value, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// id is a UUID as TigerBeetle's u128: the UUID's 16 bytes read as one
// big-endian number, as Rafiki's uuidToBigInt does. Uint128 holds its bytes
// little-endian, hence the reversal.
func id(u uuid.UUID) tb.Uint128 {
	var b [16]byte
	for i := range b {
		b[i] = u[len(u)-1-i]
	}
	return tb.BytesToUint128(b)
}

// uuidOf is the inverse of id.
func uuidOf(v tb.Uint128) uuid.UUID {
	b := v.Bytes()
	var u uuid.UUID
	for i := range u {
		u[i] = b[len(b)-1-i]
	}
	return u
}
