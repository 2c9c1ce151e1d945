package examplewallet

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/adminclient"
)

// Asset is an asset the wallet holds, with the liquidity it deposits when
// it first makes it.
type Asset struct {
	Code      string
	Scale     uint8
	Liquidity uint64
}

// Account is a user's account: a wallet address at Path (under the
// operator's wallet address URL) in an asset.
type Account struct {
	Path, Name, AssetCode string
}

// Demo is what `rafiki dev` seeds: two accounts in USD, as Rafiki's local
// environment seeds its two wallets, and a EUR asset to pay across.
var Demo = struct {
	Assets   []Asset
	Accounts []Account
	Rates    map[string]map[string]float64
}{
	Assets:   []Asset{{Code: "USD", Scale: 2, Liquidity: 100_000_000}, {Code: "EUR", Scale: 2, Liquidity: 100_000_000}},
	Accounts: []Account{{Path: "alice", Name: "Alice", AssetCode: "USD"}, {Path: "bob", Name: "Bob", AssetCode: "USD"}, {Path: "carla", Name: "Carla", AssetCode: "EUR"}},
	Rates:    map[string]map[string]float64{"USD": {"EUR": 0.9}, "EUR": {"USD": 1.1111}},
}

// Seed makes the assets (depositing their liquidity once) and the accounts'
// wallet addresses, unless they exist; it answers the assets' ids by code.
// Run again, it changes nothing.
func Seed(ctx context.Context, admin *adminclient.Client, assets []Asset, accounts []Account) (map[string]string, error) {
	ids := map[string]string{}
	for _, a := range assets {
		id, err := ensureAsset(ctx, admin, a)
		if err != nil {
			return nil, err
		}
		ids[a.Code] = id
		// The deposit's id is the asset's own: made once.
		deposit := uuid.NewSHA1(uuid.NameSpaceURL, []byte("examplewallet:liquidity:"+id)).String()
		err = admin.Do(ctx, `mutation($input: DepositAssetLiquidityInput!) { depositAssetLiquidity(input: $input) { success } }`,
			map[string]any{"input": map[string]any{"assetId": id, "amount": strconv.FormatUint(a.Liquidity, 10), "id": deposit,
				"idempotencyKey": deposit}}, nil)
		if err != nil && !isCode(err, "DUPLICATE") {
			return nil, fmt.Errorf("deposit liquidity of %s: %w", a.Code, err)
		}
	}
	for _, acc := range accounts {
		assetID, ok := ids[acc.AssetCode]
		if !ok {
			return nil, fmt.Errorf("account %s: no asset %s", acc.Path, acc.AssetCode)
		}
		err := admin.Do(ctx, `mutation($input: CreateWalletAddressInput!) { createWalletAddress(input: $input) { walletAddress { id } } }`,
			map[string]any{"input": map[string]any{"assetId": assetID, "address": acc.Path, "publicName": acc.Name}}, nil)
		if err != nil && !isCode(err, "DUPLICATE") {
			return nil, fmt.Errorf("wallet address %s: %w", acc.Path, err)
		}
	}
	return ids, nil
}

// ensureAsset makes an asset, or finds it when it exists.
func ensureAsset(ctx context.Context, admin *adminclient.Client, a Asset) (string, error) {
	var created struct {
		CreateAsset struct{ Asset struct{ ID string } } `json:"createAsset"`
	}
	err := admin.Do(ctx, `mutation($input: CreateAssetInput!) { createAsset(input: $input) { asset { id } } }`,
		map[string]any{"input": map[string]any{"code": a.Code, "scale": a.Scale}}, &created)
	if err == nil {
		return created.CreateAsset.Asset.ID, nil
	}
	if !isCode(err, "DUPLICATE") {
		return "", fmt.Errorf("asset %s: %w", a.Code, err)
	}
	var found struct {
		AssetByCodeAndScale *struct{ ID string } `json:"assetByCodeAndScale"`
	}
	if err := admin.Do(ctx, `query($code: String!, $scale: UInt8!) { assetByCodeAndScale(code: $code, scale: $scale) { id } }`,
		map[string]any{"code": a.Code, "scale": a.Scale}, &found); err != nil || found.AssetByCodeAndScale == nil {
		return "", fmt.Errorf("asset %s exists but cannot be read: %v", a.Code, err)
	}
	return found.AssetByCodeAndScale.ID, nil
}

// isCode tells whether err is a GraphQL error with this code.
func isCode(err error, code string) bool {
	var errs adminclient.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			if e.Code() == code {
				return true
			}
		}
	}
	return false
}
