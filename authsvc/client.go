package authsvc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/rafiki-go/rafiki/apperr"
)

// walletAddressBytesMax bounds a wallet address document.
const walletAddressBytesMax = 64 << 10

// clientName is the public name of the client's wallet address, shown to
// the resource owner; "" when it has none. Fetched each time, as Rafiki
// does: the name is the client's to change.
func (s *Server) clientName(ctx context.Context, walletAddress string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, walletAddress, nil)
	if err != nil {
		return "", fmt.Errorf("client %s: %w", walletAddress, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.deps.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch client %s: %w", walletAddress, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= http.StatusInternalServerError {
		// Not the client's fault, nor the request's: it may be sent again.
		return "", apperr.E(apperr.Unavailable, "The client's wallet address %s did not answer (HTTP %d): the grant request may be sent again later.",
			walletAddress, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetch client %s: status %d", walletAddress, resp.StatusCode)
	}
	var doc struct {
		PublicName string `json:"publicName"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, walletAddressBytesMax)).Decode(&doc); err != nil {
		return "", fmt.Errorf("read client %s: %w", walletAddress, err)
	}
	return doc.PublicName, nil
}
