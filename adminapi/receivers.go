package adminapi

import (
	"context"
	"fmt"

	"github.com/rafiki-go/rafiki/adminapi/scalars"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/receiver"
)

// receiverAfter is a receiver a mutation answered, once the read models
// show what it wrote here (a local payment created or completed).
func (r *Resolver) receiverAfter(ctx context.Context, rc *receiver.Receiver) (*Receiver, error) {
	if rc.Written.Sequence != 0 {
		if err := r.seen(ctx, projections.IncomingPayments{}.Name(), rc.Written); err != nil {
			return nil, err
		}
	}
	return receiverOut(rc)
}

// receiverOut is a receiver as Rafiki answers it.
func receiverOut(rc *receiver.Receiver) (*Receiver, error) {
	out := &Receiver{ID: rc.ID, WalletAddressURL: rc.WalletAddressURL, Completed: rc.Completed,
		ReceivedAmount: receiverAmount(rc.ReceivedAmount), CreatedAt: Timestamp(rc.CreatedAt), ExpiresAt: optionalTimestamp(rc.ExpiresAt)}
	if rc.IncomingAmount != nil {
		out.IncomingAmount = receiverAmount(*rc.IncomingAmount)
	}
	metadata, err := metadataOut(rc.Metadata)
	if err != nil {
		return nil, fmt.Errorf("metadata of receiver %s: %w", rc.ID, err)
	}
	out.Metadata = metadata
	return out, nil
}

func receiverAmount(a receiver.Amount) *Amount {
	return &Amount{Value: scalars.BigInt(a.Value), AssetCode: a.AssetCode, AssetScale: scalars.UInt8(a.AssetScale)}
}
