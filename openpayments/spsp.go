package openpayments

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/readmodel"
)

// spspContentType is SPSP version 4 (interledger RFC 0009).
const spspContentType = "application/spsp4+json"

// spsp answers a payment pointer lookup with STREAM credentials for the
// wallet address, with receipts when the sender asks for them.
func (s *WalletAddresses) spsp(w http.ResponseWriter, r *http.Request, url string) {
	nonceText, secretText := r.Header.Get("Receipt-Nonce"), r.Header.Get("Receipt-Secret")
	if (nonceText == "") != (secretText == "") {
		writeError(w, http.StatusBadRequest, "Failed to generate credentials: receipt nonce and secret must accompany each other")
		return
	}
	wa, ok := s.active(w, r, url)
	if !ok {
		return
	}
	tag := stream.Tag{ID: uuid.MustParse(wa.ID)}
	if nonceText != "" {
		receipt, ok := receiptSetup(nonceText, secretText)
		if !ok {
			writeError(w, http.StatusBadRequest, "Failed to generate credentials: invalid receipt nonce or secret")
			return
		}
		tag.Receipt = receipt
	}
	base, err := tenantILPAddress(r.Context(), s.read, s.cfg.ILPAddress, wa.TenantID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	address, secret, err := s.cfg.Stream.Generate(base, tag)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, _ := json.Marshal(map[string]any{
		"destination_account": address,
		"shared_secret":       base64.RawURLEncoding.EncodeToString(secret),
		"receipts_enabled":    tag.Receipt != nil,
	})
	w.Header().Set("Content-Type", spspContentType)
	_, _ = w.Write(body)
}

// tenantILPAddress is the address a tenant receives under: its ILP_ADDRESS
// setting, else the operator's.
func tenantILPAddress(ctx context.Context, read *readmodel.Reader, operatorAddress, tenantID string) (string, error) {
	settings, err := read.TenantSettings(ctx, tenantID)
	if err != nil {
		return "", err
	}
	for _, st := range settings {
		if st.Key == "ILP_ADDRESS" {
			return st.Value, nil
		}
	}
	return operatorAddress, nil
}

// receiptSetup reads the base64 Receipt-Nonce (16 bytes) and Receipt-Secret
// (32 bytes) headers.
func receiptSetup(nonceText, secretText string) (*stream.ReceiptSetup, bool) {
	nonce, err1 := base64.StdEncoding.DecodeString(nonceText)
	secret, err2 := base64.StdEncoding.DecodeString(secretText)
	r := &stream.ReceiptSetup{}
	if err1 != nil || err2 != nil || len(nonce) != len(r.Nonce) || len(secret) != len(r.Secret) {
		return nil, false
	}
	copy(r.Nonce[:], nonce)
	copy(r.Secret[:], secret)
	return r, true
}
