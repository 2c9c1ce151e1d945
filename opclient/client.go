// Package opclient is the backend's Open Payments client of other wallets:
// it reads wallet addresses, requests GNAP grants from their authorization
// servers and creates, reads and completes incoming payments at their
// resource servers, as Rafiki's backend does through the Open Payments SDK.
// Every request goes through the client of package outbound; the ones the
// SDK signs are signed with the backend's key (KEY_ID, PRIVATE_KEY_FILE) as
// the client WALLET_ADDRESS_URL, whose jwks.json the backend serves.
package opclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rafiki-go/rafiki/httpsig"
)

// responseBytesMax bounds a response body.
const responseBytesMax = 256 << 10

// Client makes the requests.
type Client struct {
	http          *http.Client
	key           ed25519.PrivateKey
	keyID         string
	walletAddress string
	now           func() time.Time
}

// New is a client signing with key under keyID as the client walletAddress;
// httpClient is the outbound client of the process's USE_HTTP setting.
func New(httpClient *http.Client, key ed25519.PrivateKey, keyID, walletAddress string) *Client {
	return &Client{http: httpClient, key: key, keyID: keyID, walletAddress: walletAddress, now: time.Now}
}

// Error is an answer other than success: its status, and the code and
// description of an Open Payments or GNAP error body when it has one.
type Error struct {
	Method      string
	URL         string
	Status      int
	Code        string
	Description string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: status %d %s %s", e.Method, e.URL, e.Status, e.Code, e.Description)
}

// Status is the HTTP status of err's answer, or 0 when it had none.
func Status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// ErrInteractionRequired is a grant request answered with an interaction
// to go through rather than a token: the backend cannot interact.
var ErrInteractionRequired = errors.New("opclient: grant requires interaction")

// Amount is an Open Payments amount.
type Amount struct {
	Value      string `json:"value"`
	AssetCode  string `json:"assetCode"`
	AssetScale uint8  `json:"assetScale"`
}

// WalletAddress is a wallet address document.
type WalletAddress struct {
	ID             string  `json:"id"`
	PublicName     *string `json:"publicName,omitempty"`
	AssetCode      string  `json:"assetCode"`
	AssetScale     uint8   `json:"assetScale"`
	AuthServer     string  `json:"authServer"`
	ResourceServer string  `json:"resourceServer"`
}

// Method is a way to pay an incoming payment: type "ilp", with STREAM
// credentials.
type Method struct {
	Type         string `json:"type"`
	ILPAddress   string `json:"ilpAddress"`
	SharedSecret string `json:"sharedSecret"`
}

// IncomingPayment is an incoming payment as a resource server answers it;
// Methods is nil when the answer has none (a completion).
type IncomingPayment struct {
	ID             string          `json:"id"`
	WalletAddress  string          `json:"walletAddress"`
	Completed      bool            `json:"completed"`
	IncomingAmount *Amount         `json:"incomingAmount,omitempty"`
	ReceivedAmount Amount          `json:"receivedAmount"`
	ExpiresAt      *time.Time      `json:"expiresAt,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	CreatedAt      time.Time       `json:"createdAt"`
	Methods        []Method        `json:"methods,omitempty"`
}

// PublicIncomingPayment is what anyone may read of an incoming payment.
type PublicIncomingPayment struct {
	ReceivedAmount *Amount `json:"receivedAmount,omitempty"`
	AuthServer     string  `json:"authServer"`
}

// CreateIncomingPayment is the body of an incoming payment's creation.
type CreateIncomingPayment struct {
	WalletAddress  string          `json:"walletAddress"`
	IncomingAmount *Amount         `json:"incomingAmount,omitempty"`
	ExpiresAt      *time.Time      `json:"expiresAt,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
}

// Access is one access a grant asks for.
type Access struct {
	Type    string   `json:"type"`
	Actions []string `json:"actions"`
}

// AccessToken is a token a grant or rotation gives: its value, its
// management URL and its lifetime (0: none given).
type AccessToken struct {
	Value     string `json:"value"`
	Manage    string `json:"manage"`
	ExpiresIn int64  `json:"expires_in"`
}

// WalletAddress reads the wallet address document at url.
func (c *Client) WalletAddress(ctx context.Context, url string) (WalletAddress, error) {
	var out WalletAddress
	if err := c.do(ctx, http.MethodGet, url, "", nil, false, &out); err != nil {
		return WalletAddress{}, err
	}
	if out.ID == "" || out.AuthServer == "" {
		return WalletAddress{}, fmt.Errorf("wallet address %s: document without id or authServer", url)
	}
	return out, nil
}

// RequestGrant asks the authorization server at authServer for a grant of
// access, without interaction, as the client WALLET_ADDRESS_URL.
func (c *Client) RequestGrant(ctx context.Context, authServer string, access ...Access) (AccessToken, error) {
	body := map[string]any{
		"access_token": map[string]any{"access": access},
		"client":       c.walletAddress,
		"interact":     map[string]any{"start": []string{"redirect"}},
	}
	var out struct {
		AccessToken *AccessToken    `json:"access_token"`
		Interact    json.RawMessage `json:"interact"`
	}
	if err := c.do(ctx, http.MethodPost, authServer, "", body, true, &out); err != nil {
		return AccessToken{}, err
	}
	if out.AccessToken == nil || out.AccessToken.Value == "" {
		if len(out.Interact) > 0 {
			return AccessToken{}, ErrInteractionRequired
		}
		return AccessToken{}, fmt.Errorf("grant request to %s: answer without an access token", authServer)
	}
	return *out.AccessToken, nil
}

// RotateToken exchanges token for its successor at its management URL.
func (c *Client) RotateToken(ctx context.Context, manage, token string) (AccessToken, error) {
	var out struct {
		AccessToken *AccessToken `json:"access_token"`
	}
	if err := c.do(ctx, http.MethodPost, manage, token, nil, true, &out); err != nil {
		return AccessToken{}, err
	}
	if out.AccessToken == nil || out.AccessToken.Value == "" {
		return AccessToken{}, fmt.Errorf("token rotation at %s: answer without an access token", manage)
	}
	return *out.AccessToken, nil
}

// CreateIncomingPayment creates an incoming payment at the resource server
// resourceServer.
func (c *Client) CreateIncomingPayment(ctx context.Context, resourceServer, token string, in CreateIncomingPayment) (IncomingPayment, error) {
	var out IncomingPayment
	err := c.do(ctx, http.MethodPost, strings.TrimRight(resourceServer, "/")+"/incoming-payments", token, in, true, &out)
	return out, err
}

// IncomingPayment reads the incoming payment at url.
func (c *Client) IncomingPayment(ctx context.Context, url, token string) (IncomingPayment, error) {
	var out IncomingPayment
	err := c.do(ctx, http.MethodGet, url, token, nil, true, &out)
	return out, err
}

// PublicIncomingPayment reads what anyone may read of the incoming payment
// at url: its authorization server among it.
func (c *Client) PublicIncomingPayment(ctx context.Context, url string) (PublicIncomingPayment, error) {
	var out PublicIncomingPayment
	if err := c.do(ctx, http.MethodGet, url, "", nil, false, &out); err != nil {
		return PublicIncomingPayment{}, err
	}
	if out.AuthServer == "" {
		return PublicIncomingPayment{}, fmt.Errorf("incoming payment %s: public view without authServer", url)
	}
	return out, nil
}

// CompleteIncomingPayment completes the incoming payment at url.
func (c *Client) CompleteIncomingPayment(ctx context.Context, url, token string) (IncomingPayment, error) {
	var out IncomingPayment
	err := c.do(ctx, http.MethodPost, strings.TrimRight(url, "/")+"/complete", token, nil, true, &out)
	return out, err
}

// do sends a request, signed when signed, with "Authorization: GNAP
// <token>" when token is set and in as its JSON body when not nil, and
// decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, method, url, token string, in any, signed bool, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s %s: %w", method, url, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	req.Header.Set("Accept", "application/json")
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "GNAP "+token)
	}
	if signed {
		if err := httpsig.SignNonce(req, body, c.key, c.keyID, c.now(), nonce()); err != nil {
			return fmt.Errorf("sign %s %s: %w", method, url, err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, responseBytesMax+1))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	if len(answer) > responseBytesMax {
		return fmt.Errorf("%s %s: answer larger than %d bytes", method, url, responseBytesMax)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return answerError(method, url, resp.StatusCode, answer)
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("%s %s: answer is not the JSON expected: %w", method, url, err)
	}
	return nil
}

// answerError reads an error answer: Open Payments'
// {"error":{"code","description"}} or GNAP's {"error":{"code","description"}}
// and {"error":"code"}.
func answerError(method, url string, status int, answer []byte) error {
	e := &Error{Method: method, URL: url, Status: status}
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(answer, &body) == nil && len(body.Error) > 0 {
		var detail struct {
			Code        any    `json:"code"`
			Description string `json:"description"`
		}
		var code string
		if json.Unmarshal(body.Error, &detail) == nil {
			if detail.Code != nil {
				e.Code = fmt.Sprint(detail.Code)
			}
			e.Description = detail.Description
		} else if json.Unmarshal(body.Error, &code) == nil {
			e.Code = code
		}
	}
	return e
}

// nonce makes each signature unique.
func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
