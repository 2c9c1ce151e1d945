package ilp

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/rafiki-go/rafiki/connector/ilp/oer"
)

// ILDCPDestination is the address an IL-DCP request is sent to (RFC 31).
const ILDCPDestination = "peer.config"

// ILDCPFulfillment fulfills every IL-DCP request: 32 zero bytes, so that
// ILDCPCondition is its SHA-256.
var ILDCPFulfillment [32]byte

// ILDCPCondition is the execution condition of every IL-DCP request.
var ILDCPCondition = sha256.Sum256(ILDCPFulfillment[:])

// assetCodeBytesMax bounds the asset code a response may carry; the
// ASN.1 leaves it unbounded, the packet's data field does not.
const assetCodeBytesMax = DataBytesMax

// ErrNotILDCP is wrapped when a Prepare is not an IL-DCP request.
var ErrNotILDCP = errors.New("not an IL-DCP request")

// ILDCPResponse tells a peer the address, asset code and asset scale of
// its account.
type ILDCPResponse struct {
	ClientAddress string
	AssetScale    uint8
	AssetCode     string
}

// IsILDCPRequest reports whether p is addressed to peer.config, which the
// connector answers itself rather than routing.
func IsILDCPRequest(p Prepare) bool { return p.Destination == ILDCPDestination }

// ServeILDCP answers an IL-DCP request with the account's configuration.
// A request with another destination or condition, or that has expired,
// is an error; the connector rejects it (RFC 31 does not name a code,
// the reference server uses F00).
func ServeILDCP(p Prepare, clientAddress, assetCode string, assetScale uint8) (Fulfill, error) {
	if !IsILDCPRequest(p) {
		return Fulfill{}, fmt.Errorf("serve IL-DCP: destination %q: %w", p.Destination, ErrNotILDCP)
	}
	if p.ExecutionCondition != ILDCPCondition {
		return Fulfill{}, fmt.Errorf("serve IL-DCP: condition is not the peer protocol condition: %w", ErrNotILDCP)
	}
	if now := time.Now(); now.After(p.ExpiresAt) {
		return Fulfill{}, fmt.Errorf("serve IL-DCP: request expired at %s, now %s", p.ExpiresAt.Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
	}
	f, err := EncodeILDCPResponse(ILDCPResponse{ClientAddress: clientAddress, AssetScale: assetScale, AssetCode: assetCode})
	if err != nil {
		return Fulfill{}, fmt.Errorf("serve IL-DCP: %w", err)
	}
	return f, nil
}

// EncodeILDCPResponse returns the Fulfill that carries r.
func EncodeILDCPResponse(r ILDCPResponse) (Fulfill, error) {
	if err := ValidateAddress(r.ClientAddress); err != nil {
		return Fulfill{}, fmt.Errorf("encode IL-DCP response: clientAddress: %w", err)
	}
	if err := checkAssetCode(r.AssetCode); err != nil {
		return Fulfill{}, fmt.Errorf("encode IL-DCP response: %w", err)
	}
	data := make([]byte, 0, oer.VarOctetStringSize(len(r.ClientAddress))+1+oer.VarOctetStringSize(len(r.AssetCode)))
	data = oer.AppendVarString(data, r.ClientAddress)
	data = append(data, r.AssetScale)
	data = oer.AppendVarString(data, r.AssetCode)
	if err := checkData(data); err != nil {
		return Fulfill{}, fmt.Errorf("encode IL-DCP response: %w", err)
	}
	return Fulfill{Fulfillment: ILDCPFulfillment, Data: data}, nil
}

// DecodeILDCPResponse reads the configuration a parent's Fulfill carries.
// Bytes after the asset code are ignored (RFC 30).
func DecodeILDCPResponse(f Fulfill) (ILDCPResponse, error) {
	var resp ILDCPResponse
	if f.Fulfillment != ILDCPFulfillment {
		return resp, fmt.Errorf("decode IL-DCP response: %w: fulfillment is not the peer protocol fulfillment", ErrMalformed)
	}
	r := oer.NewReader(f.Data)
	var err error
	if resp.ClientAddress, err = readAddress(&r, "clientAddress", false); err != nil {
		return ILDCPResponse{}, fmt.Errorf("decode IL-DCP response: %w", err)
	}
	if resp.AssetScale, err = r.Uint8(); err != nil {
		return ILDCPResponse{}, fmt.Errorf("decode IL-DCP response: assetScale: %w", err)
	}
	code, err := r.VarOctetString(assetCodeBytesMax)
	if err != nil {
		return ILDCPResponse{}, fmt.Errorf("decode IL-DCP response: assetCode: %w", err)
	}
	resp.AssetCode = string(code)
	if err := checkAssetCode(resp.AssetCode); err != nil {
		return ILDCPResponse{}, fmt.Errorf("decode IL-DCP response: %w: %w", ErrMalformed, err)
	}
	return resp, nil
}

func checkAssetCode(code string) error {
	if !utf8.ValidString(code) {
		return fmt.Errorf("asset code is not UTF-8")
	}
	return nil
}
