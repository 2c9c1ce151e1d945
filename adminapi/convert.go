package adminapi

import (
	"context"

	"github.com/rafiki-go/rafiki/adminapi/scalars"
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/readmodel"
)

func (r *Resolver) assetAfter(ctx context.Context, id string, res handlers.Result) (*Asset, error) {
	if err := r.seen(ctx, "assets", res); err != nil {
		return nil, err
	}
	row, err := r.Read.Asset(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, apperr.E(apperr.NotFound, "Asset not found")
	}
	return assetOut(row), nil
}
func (r *Resolver) latestFee(ctx context.Context, assetID, feeType string) (*Fee, error) {
	f, err := r.Read.LatestFee(ctx, assetID, feeType)
	if err != nil || f == nil {
		return nil, err
	}
	return feeOut(f), nil
}
func assetOut(a *readmodel.Asset) *Asset {
	return &Asset{
		ID: a.ID, Code: a.Code, Scale: scalars.UInt8(a.Scale), TenantID: a.TenantID,
		WithdrawalThreshold: bigIntOut(a.WithdrawalThreshold), LiquidityThreshold: bigIntOut(a.LiquidityThreshold),
		CreatedAt: Timestamp(a.CreatedAt),
	}
}
func feeOut(f *readmodel.Fee) *Fee {
	return &Fee{ID: f.ID, AssetID: f.AssetID, Type: FeeType(f.Type), Fixed: scalars.BigInt(f.Fixed),
		BasisPoints: f.BasisPoints, CreatedAt: Timestamp(f.CreatedAt)}
}
func bigIntIn(v *scalars.BigInt) *uint64 {
	if v == nil {
		return nil
	}
	n := uint64(*v)
	return &n
}
func bigIntOut(v *uint64) *scalars.BigInt {
	if v == nil {
		return nil
	}
	b := scalars.BigInt(*v)
	return &b
}

func (r *Resolver) tenantAfter(ctx context.Context, id string, res handlers.Result, includeDeleted bool) (*Tenant, error) {
	if err := r.seen(ctx, "tenants", res); err != nil {
		return nil, err
	}
	t, err := r.Read.Tenant(ctx, id, includeDeleted)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, apperr.E(apperr.NotFound, "tenant does not exist")
	}
	return tenantOut(t), nil
}
func settingsIn(in []TenantSettingInput) []events.Setting {
	out := make([]events.Setting, len(in))
	for i, s := range in {
		out[i] = events.Setting{Key: string(s.Key), Value: s.Value}
	}
	return out
}
func setIfPresent(field *string, value *string) {
	if value != nil {
		*field = *value
	}
}
func tenantOut(t *readmodel.Tenant) *Tenant {
	return &Tenant{
		ID: t.ID, Email: t.Email, APISecret: t.APISecret, IdpConsentURL: t.IDPConsentURL,
		IdpSecret: t.IDPSecret, PublicName: t.PublicName,
		CreatedAt: Timestamp(t.CreatedAt), DeletedAt: optionalTimestamp(t.DeletedAt),
	}
}

func (r *Resolver) walletAddressAfter(ctx context.Context, id string, res handlers.Result) (*WalletAddress, error) {
	if err := r.seen(ctx, "wallet_addresses", res); err != nil {
		return nil, err
	}
	row, err := r.Read.WalletAddress(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, apperr.E(apperr.NotFound, "Wallet address not found")
	}
	return walletAddressOut(row), nil
}

func (r *Resolver) keyAfter(ctx context.Context, id string, res handlers.Result) (*WalletAddressKey, error) {
	if err := r.seen(ctx, "wallet_address_keys", res); err != nil {
		return nil, err
	}
	k, err := r.Read.Key(ctx, id)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, apperr.E(apperr.NotFound, "Wallet address key not found")
	}
	return keyOut(k), nil
}

func walletAddressOut(w *readmodel.WalletAddress) *WalletAddress {
	status := WalletAddressStatusActive
	if !w.Active() {
		status = WalletAddressStatusInactive
	}
	return &WalletAddress{ID: w.ID, Address: w.Address, PublicName: w.PublicName, CreatedAt: Timestamp(w.CreatedAt),
		Status: status, AssetID: w.AssetID, TenantID: w.TenantID, asset: assetOut(&w.Asset)}
}

func keyOut(k *readmodel.Key) *WalletAddressKey {
	return &WalletAddressKey{ID: k.ID, WalletAddressID: k.WalletAddressID, Revoked: k.Revoked, CreatedAt: Timestamp(k.CreatedAt),
		Jwk: &Jwk{Kid: k.Kid, X: k.X, Alg: Alg(k.Alg), Kty: Kty(k.Kty), Crv: Crv(k.Crv)}}
}

func propertiesIn(in []AdditionalPropertyInput) []events.Property {
	out := make([]events.Property, len(in))
	for i, p := range in {
		out[i] = events.Property{Key: p.Key, Value: p.Value, Visible: p.VisibleInOpenPayments}
	}
	return out
}

func (r *Resolver) peerAfter(ctx context.Context, id string, res handlers.Result) (*Peer, error) {
	if err := r.seen(ctx, "peers", res); err != nil {
		return nil, err
	}
	row, err := r.Read.Peer(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, apperr.E(apperr.NotFound, "peer not found")
	}
	return peerOut(row), nil
}

func peerOut(p *readmodel.Peer) *Peer {
	return &Peer{
		ID: p.ID, MaxPacketAmount: bigIntOut(p.MaxPacketAmount), StaticIlpAddress: p.StaticILPAddress, Name: p.Name,
		LiquidityThreshold: bigIntOut(p.LiquidityThreshold), CreatedAt: Timestamp(p.CreatedAt), Routes: p.Routes,
		HTTP:    &HTTP{Outgoing: &HTTPOutgoing{AuthToken: p.OutgoingAuthToken, Endpoint: p.OutgoingEndpoint}},
		AssetID: p.AssetID, TenantID: p.TenantID,
	}
}

func httpIn(h *HTTPInput) commands.PeerHTTP {
	var out commands.PeerHTTP
	if h.Incoming != nil {
		out.Incoming = &commands.PeerHTTPIncoming{AuthTokens: h.Incoming.AuthTokens}
	}
	if h.Outgoing != nil {
		out.Outgoing = commands.PeerHTTPOutgoing{AuthToken: h.Outgoing.AuthToken, Endpoint: h.Outgoing.Endpoint}
	}
	return out
}

// edgesOf turns read-model rows into connection edges.
func edgesOf[R, E any](rows []R, edge func(*R) E) []E {
	out := make([]E, len(rows))
	for i := range rows {
		out[i] = edge(&rows[i])
	}
	return out
}

// ownerTenant resolves the tenant field of an object; null for a deleted
// tenant.
func (r *Resolver) ownerTenant(ctx context.Context, tenantID string) (*Tenant, error) {
	t, err := r.Read.Tenant(ctx, tenantID, false)
	if err != nil || t == nil {
		return nil, err
	}
	return tenantOut(t), nil
}

// heldAsset resolves the asset field of an object, deleted assets included:
// the object still holds it.
func (r *Resolver) heldAsset(ctx context.Context, assetID string) (*Asset, error) {
	row, err := r.Read.AssetIncludingDeleted(ctx, assetID)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, apperr.E(apperr.NotFound, "Asset not found")
	}
	return assetOut(row), nil
}

// amountIn is an amount argument as commands take it; nil for none.
func amountIn(a *AmountInput) *commands.Amount {
	if a == nil {
		return nil
	}
	return &commands.Amount{Value: uint64(a.Value), AssetCode: a.AssetCode, AssetScale: uint8(a.AssetScale)}
}
