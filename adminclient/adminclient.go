// Package adminclient is a small client for the admin GraphQL API that signs
// each request the way the API expects.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminauth"
)

// Client signs requests for one tenant.
type Client struct {
	URL      string // the /graphql endpoint
	TenantID string
	Secret   string
	HTTP     *http.Client
}

// Error is one GraphQL error of a response.
type Error struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the error's extensions.code.
func (e Error) Code() string {
	code, _ := e.Extensions["code"].(string)
	return code
}

// Errors is a response's error list.
type Errors []Error

func (e Errors) Error() string {
	if len(e) == 0 {
		return "no errors"
	}
	return fmt.Sprintf("%s (%s)", e[0].Message, e[0].Code())
}

// StatusError is a response that is not GraphQL at all, such as a 401.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// Do sends a query with its variables and decodes data into out. GraphQL
// errors come back as Errors.
func (c *Client) Do(ctx context.Context, query string, variables map[string]any, out any) error {
	// The nonce is signed with the rest of the body, so that two identical
	// queries sent in one millisecond are two requests, not a replay.
	body, err := json.Marshal(map[string]any{"query": query, "variables": variables,
		"extensions": map[string]any{"nonce": uuid.NewString()}})
	if err != nil {
		return err
	}
	req, err := c.Request(ctx, body, time.Now())
	if err != nil {
		return err
	}
	httpClient := c.HTTP
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Status: resp.StatusCode, Body: string(raw)}
	}
	var envelope struct {
		Data   json.RawMessage `json:"data"`
		Errors Errors          `json:"errors"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		return fmt.Errorf("decode response %q: %w", raw, err)
	}
	if len(envelope.Errors) > 0 {
		return envelope.Errors
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(envelope.Data, out)
}

// Request builds a signed request for a body, signed at a given time.
func (c *Client) Request(ctx context.Context, body []byte, at time.Time) (*http.Request, error) {
	sig, err := adminauth.Sign(c.Secret, 1, body, at)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("tenant-id", c.TenantID)
	req.Header.Set("signature", sig)
	return req, nil
}
