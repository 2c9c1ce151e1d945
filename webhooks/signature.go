// Package webhooks delivers webhook events to account servicing entities as
// Rafiki does: a POST of {id, type, data} to the recipient tenant's
// WEBHOOK_URL, signed when SIGNATURE_SECRET is set, successful only when
// answered 200, attempted again after min(attempts, 6) × 10 s up to
// WEBHOOK_MAX_RETRY attempts. The events are the webhooks read model
// (projections.Webhooks); the deliveries, one per event and recipient, are
// rows in the backend's database, so that a process killed mid-delivery
// loses nothing: another dispatcher takes the delivery up when its lease
// ends.
package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/rafiki-go/rafiki/canonical"
)

// Body is what is posted for a webhook event: {id, type, data} in JSON's
// canonical form (RFC 8785), which is also what the signature covers, so a
// receiver may verify the signature over the raw body as well as over its
// own canonical form of the parsed body.
func Body(id, typ string, data json.RawMessage) ([]byte, error) {
	raw, err := json.Marshal(struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}{id, typ, data})
	if err != nil {
		return nil, fmt.Errorf("webhook %s: encode: %w", id, err)
	}
	body, err := canonical.Transform(raw)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: canonical form: %w", id, err)
	}
	return body, nil
}

// Signature is the Rafiki-Signature header of a body signed at a moment:
// t=<unix ms>, v<version>=<hex HMAC-SHA256(secret, "<t>.<body>")>.
func Signature(secret string, version int, at time.Time, body []byte) string {
	t := strconv.FormatInt(at.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t))
	mac.Write([]byte("."))
	mac.Write(body)
	return fmt.Sprintf("t=%s, v%d=%s", t, version, hex.EncodeToString(mac.Sum(nil)))
}

// retryStepsMax caps the wait between attempts at six steps.
const retryStepsMax = 6

// Backoff is how long a delivery waits after its attempts-th failed attempt:
// one step after the first, two after the second, up to six.
func Backoff(step time.Duration, attempts int) time.Duration {
	return time.Duration(min(max(attempts, 1), retryStepsMax)) * step
}
