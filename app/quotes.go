package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/peers"
	"github.com/rafiki-go/rafiki/connector/stream/sender"
	"github.com/rafiki-go/rafiki/handlers/quote"
	"github.com/rafiki-go/rafiki/rates"
	"github.com/rafiki-go/rafiki/receiver"
)

// quoteReceivers are the receivers quotes pay, resolved as the receiver
// service resolves them.
type quoteReceivers struct{ receivers *receiver.Service }

func (q quoteReceivers) Receiver(ctx context.Context, url string) (quote.Receiver, bool, error) {
	r, err := q.receivers.ForPayment(ctx, url)
	if err != nil || r == nil {
		return quote.Receiver{}, false, err
	}
	// The receiver is the URL asked for, whatever id the answer gave.
	out := quote.Receiver{URL: url, LocalPaymentID: r.LocalPaymentID, LocalTenantID: r.LocalTenantID, LocalAssetID: r.LocalAssetID, AssetCode: r.ReceivedAmount.AssetCode, AssetScale: r.ReceivedAmount.AssetScale,
		ReceivedAmount: r.ReceivedAmount.Value, ExpiresAt: r.ExpiresAt, Active: r.Active(time.Now())}
	if r.IncomingAmount != nil {
		incoming := r.IncomingAmount.Value
		out.IncomingAmount = &incoming
	}
	for _, m := range r.Methods {
		if m.Type != "ilp" {
			continue
		}
		secret, err := base64.RawURLEncoding.DecodeString(m.SharedSecret)
		if err != nil {
			// As the Open Payments SDK reads it, padded or not.
			if secret, err = base64.URLEncoding.DecodeString(m.SharedSecret); err != nil {
				return quote.Receiver{}, false, nil
			}
		}
		out.ILPAddress, out.SharedSecret = m.ILPAddress, secret
	}
	return out, true, nil
}

// Active tells whether the receiver at url can still be paid.
func (q quoteReceivers) Active(ctx context.Context, url string) (bool, error) {
	return q.receivers.Active(ctx, url)
}

// probeTimeout bounds a quote's rate probe.
const probeTimeout = 10 * time.Second

// prober probes paths through this instance's connector, which the backend
// makes after the quote handler: until then it probes nothing.
type prober struct {
	conn atomic.Pointer[connector.Connector]
}

func (p *prober) Probe(ctx context.Context, tenantID, walletAddressID string, asset rates.Asset, destination string, sharedSecret []byte) (sender.Probe, error) {
	conn := p.conn.Load()
	if conn == nil {
		return sender.Probe{}, errors.New("the connector is not running")
	}
	origin := connector.Origin{ID: walletAddressID, TenantID: tenantID, Asset: peers.Asset{Code: asset.Code, Scale: asset.Scale},
		Address: walletAddressID, Unfulfillable: true}
	s := sender.Sender{ProbeTimeout: probeTimeout, Send: func(ctx context.Context, prepare ilp.Prepare) (ilp.Packet, error) {
		return conn.Send(ctx, origin, prepare), nil
	}}
	return probePath(ctx, s, destination, sharedSecret)
}

// probePath probes the path to STREAM credentials on a connection of its
// own, closed after.
func probePath(ctx context.Context, s sender.Sender, destination string, sharedSecret []byte) (sender.Probe, error) {
	c, err := s.Connect(ctx, destination, sharedSecret)
	if err != nil {
		return sender.Probe{}, fmt.Errorf("connect to %s: %w", destination, err)
	}
	probe, err := c.Probe(ctx)
	// The receiver learns the connection is over; a failure to say so
	// changes nothing the probe found.
	_ = c.Close(ctx)
	if err != nil {
		return sender.Probe{}, fmt.Errorf("probe %s: %w", destination, err)
	}
	return probe, nil
}
