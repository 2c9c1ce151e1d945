package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/peers"
)

// ContentType is ILP-over-HTTP's, as Rafiki requires it.
const ContentType = "application/octet-stream"

// replyBytesMax bounds a peer's answer: a Fulfill or Reject with the most
// data an ILP packet may carry, and its envelope.
const replyBytesMax = 1 << 16

// forward sends the Prepare to the next hop with its expiry shortened, as
// Rafiki does, and waits no longer than the packet lives.
func (c *Connector) forward(ctx context.Context, to peers.Peer, p ilp.Prepare) (ilp.Packet, error) {
	now := c.now()
	expires := p.ExpiresAt.Add(-expiryMarginMin)
	if latest := now.Add(expiryWindowMax); latest.Before(expires) {
		expires = latest
	}
	if expires.Before(now.Add(expiryMarginMin)) {
		return nil, refuse(ilp.CodeInsufficientTimeout, "source transfer has already expired. sourceExpiry=%s", p.ExpiresAt.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	p.ExpiresAt = expires
	body, err := ilp.EncodePrepare(p)
	if err != nil {
		return nil, fmt.Errorf("encode prepare for peer %s: %w", to.ID, err)
	}
	ctx, cancel := context.WithDeadline(ctx, expires)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to.OutgoingEndpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("peer %s endpoint: %w", to.ID, err)
	}
	req.Header.Set("Authorization", "Bearer "+to.OutgoingToken)
	req.Header.Set("Content-Type", ContentType)
	resp, err := c.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, refuse(ilp.CodeTransferTimedOut, "packet expired.")
		}
		return nil, fmt.Errorf("send to peer %s: %w", to.ID, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, replyBytesMax))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, refuse(ilp.CodeTransferTimedOut, "packet expired.")
		}
		return nil, fmt.Errorf("read peer %s's answer: %w", to.ID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("peer %s answered %d", to.ID, resp.StatusCode)
	}
	reply, err := ilp.DecodeAny(raw)
	if err != nil {
		return nil, fmt.Errorf("peer %s's answer: %w", to.ID, err)
	}
	if reply.Type() == ilp.TypePrepare {
		return nil, fmt.Errorf("peer %s answered a prepare", to.ID)
	}
	return reply, nil
}
