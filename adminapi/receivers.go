package adminapi

import (
	"context"
	"fmt"

	"github.com/rafiki-go/rafiki/adminapi/scalars"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/receiver"
)

// receiverSeen waits until the incoming payments read model shows what a
// local receiver's creation or completion stored, so that a query right
// after sees it, as after createIncomingPayment.
func (r *Resolver) receiverSeen(ctx context.Context, rc *receiver.Receiver) error {
	if rc.Written.Sequence == 0 {
		return nil
	}
	return r.seen(ctx, projections.IncomingPayments{}.Name(), rc.Written)
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
