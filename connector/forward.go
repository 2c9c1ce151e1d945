package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/peers"
)

// ContentType is ILP-over-HTTP's, as Rafiki requires it.
const ContentType = "application/octet-stream"

// replyBytesMax bounds a peer's answer: a Fulfill or Reject with the most
// data an ILP packet may carry, and its envelope.
const replyBytesMax = 1 << 16

// outgoingExpiry is the expiry a Prepare that arrived with expiresAt
// leaves with, shortened as Rafiki shortens it, or R02 when too little of
// its life is left.
func outgoingExpiry(now, expiresAt time.Time) (time.Time, error) {
	expires := expiresAt.Add(-expiryMarginMin)
	if latest := now.Add(expiryWindowMax); latest.Before(expires) {
		expires = latest
	}
	if expires.Before(now.Add(expiryMarginMin)) {
		return time.Time{}, refuse(ilp.CodeInsufficientTimeout, "source transfer has already expired. sourceExpiry=%s", expiresAt.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	return expires, nil
}

// forward sends the Prepare to the next hop with its expiry shortened to
// expires (outgoingExpiry), and waits no longer than the packet lives.
func (c *Connector) forward(ctx context.Context, to peers.Peer, p ilp.Prepare, expires time.Time) (ilp.Packet, error) {
	p.ExpiresAt = expires
	body, err := ilp.EncodePrepare(p)
	if err != nil {
		return nil, fmt.Errorf("encode prepare for peer %s: %w", to.ID, err)
	}
	template, err := c.requestTo(to)
	if err != nil {
		return nil, fmt.Errorf("peer %s endpoint: %w", to.ID, err)
	}
	ctx, cancel := context.WithDeadline(ctx, expires)
	defer cancel()
	req := template.WithContext(ctx)
	req.Body, req.GetBody, req.ContentLength = newPrepareBody(body), prepareBodyAgain(body), int64(len(body))
	resp, err := c.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, refuse(ilp.CodeTransferTimedOut, "packet expired.")
		}
		return nil, fmt.Errorf("send to peer %s: %w", to.ID, err)
	}
	defer resp.Body.Close()
	buf := buffers.Get().(*[]byte)
	raw, err := readAll(resp.Body, *buf, replyBytesMax)
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
	release(buf, raw)
	if err != nil {
		return nil, fmt.Errorf("peer %s's answer: %w", to.ID, err)
	}
	if reply.Type() == ilp.TypePrepare {
		return nil, fmt.Errorf("peer %s answered a prepare", to.ID)
	}
	return reply, nil
}

// requestTo is the request every packet to peer to starts from: its
// endpoint parsed, its headers set. Packets share its URL and headers,
// which neither the client nor a transport changes.
func (c *Connector) requestTo(to peers.Peer) (*http.Request, error) {
	c.requestsMu.RLock()
	r, ok := c.requests[to.ID]
	c.requestsMu.RUnlock()
	if ok && r.endpoint == to.OutgoingEndpoint && r.token == to.OutgoingToken {
		return r.template, nil
	}
	template, err := http.NewRequest(http.MethodPost, to.OutgoingEndpoint, nil)
	if err != nil {
		return nil, err
	}
	template.Header.Set("Authorization", "Bearer "+to.OutgoingToken)
	template.Header.Set("Content-Type", ContentType)
	c.requestsMu.Lock()
	if len(c.requests) >= requestsMax {
		clear(c.requests)
	}
	c.requests[to.ID] = peerRequest{endpoint: to.OutgoingEndpoint, token: to.OutgoingToken, template: template}
	c.requestsMu.Unlock()
	return template, nil
}

// requestsMax bounds the peers whose requests are kept; a full cache is
// emptied and fills again.
const requestsMax = 10_000

// peerRequest is a peer's request template and the settings it was made
// with: a peer updated since gets a new one.
type peerRequest struct {
	endpoint, token string
	template        *http.Request
}

// prepareBody is a request's body: an encoded Prepare.
type prepareBody struct{ bytes.Reader }

func newPrepareBody(b []byte) *prepareBody {
	body := &prepareBody{}
	body.Reset(b)
	return body
}

func (*prepareBody) Close() error { return nil }

// prepareBodyAgain is the request's GetBody: the body from its start, for
// a redirect or a retry on a new connection.
func prepareBodyAgain(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return newPrepareBody(b), nil }
}
