package adminapi

import (
	"fmt"

	"github.com/rafiki-go/rafiki/readmodel"
)

func paymentOut(p *readmodel.Payment) (*Payment, error) {
	metadata, err := metadataOut(p.Metadata)
	if err != nil {
		return nil, fmt.Errorf("metadata of payment %s: %w", p.ID, err)
	}
	return &Payment{ID: p.ID, Type: PaymentType(p.Type), WalletAddressID: p.WalletAddressID, Client: p.Client, State: p.State,
		Metadata: metadata, CreatedAt: Timestamp(p.CreatedAt), TenantID: p.TenantID}, nil
}

// paymentFilter reads a PaymentFilter: of each list only in, as Rafiki
// reads it.
func paymentFilter(f readmodel.PaymentFilter, filter *PaymentFilter) readmodel.PaymentFilter {
	if filter == nil {
		return f
	}
	if filter.Type != nil {
		f.TypeIn = filter.Type.In
	}
	if filter.WalletAddressID != nil {
		f.WalletAddressIDIn = filter.WalletAddressID.In
	}
	return f
}
