package sender

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/rafiki-go/rafiki/connector/ilp"
)

// replyBytesMax bounds a peer's answer: the largest Reject, with room for
// the extension bytes a decoder ignores.
const replyBytesMax = 1 << 17

// HTTP sends Prepares to a peer over ILP-over-HTTP, as Rafiki's connector
// sends them: a POST to endpoint with `Authorization: Bearer <token>` and
// `Content-Type: application/octet-stream`, its body the OER Prepare; the
// answer, 200, is the Fulfill or Reject. The request's deadline is the
// context's, which Connection sets at the Prepare's expiry.
func HTTP(client *http.Client, endpoint, token string) SendFunc {
	if client == nil {
		client = http.DefaultClient
	}
	return func(ctx context.Context, p ilp.Prepare) (ilp.Packet, error) {
		body, err := ilp.EncodePrepare(p)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("ILP over HTTP: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("ILP over HTTP: %w", err)
		}
		defer resp.Body.Close()
		answer, err := io.ReadAll(io.LimitReader(resp.Body, replyBytesMax+1))
		if err != nil {
			return nil, fmt.Errorf("ILP over HTTP: reading the answer: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("ILP over HTTP: %s answered %d: %.200q", endpoint, resp.StatusCode, answer)
		}
		return decodeAnswer(answer)
	}
}

// decodeAnswer reads a peer's answer to a Prepare: a Fulfill or a Reject.
func decodeAnswer(b []byte) (ilp.Packet, error) {
	if len(b) > replyBytesMax {
		return nil, fmt.Errorf("ILP over HTTP: an answer of more than %d bytes", replyBytesMax)
	}
	p, err := ilp.DecodeAny(b)
	if err != nil {
		return nil, fmt.Errorf("ILP over HTTP: %w", err)
	}
	switch p.(type) {
	case ilp.Fulfill, ilp.Reject:
		return p, nil
	}
	return nil, fmt.Errorf("ILP over HTTP: answered a %s", p.Type())
}
