package asset

import (
	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/valid"
)

// Input checks, run before anything is loaded; each returns the command
// with its ids in canonical form. Thresholds and the fixed fee are unsigned
// 64-bit by their type, the scale below 256.

func checkCreate(c commands.CreateAsset) (commands.CreateAsset, error) {
	id, ok := valid.ID(c.TenantID)
	if !ok {
		return c, apperr.E(apperr.InvalidInput, "invalid tenant id")
	}
	c.TenantID = id
	return c, validateCode(c.Code)
}

func checkUpdate(c commands.UpdateAsset) (commands.UpdateAsset, error) {
	id, err := assetID(c.AssetID)
	c.AssetID = id
	return c, err
}

func checkDelete(c commands.DeleteAsset) (commands.DeleteAsset, error) {
	id, err := assetID(c.AssetID)
	c.AssetID = id
	return c, err
}

func checkSetFee(c commands.SetFee) (commands.SetFee, error) {
	id, err := assetID(c.AssetID)
	if err != nil {
		return c, err
	}
	c.AssetID = id
	if c.Type != FeeSending && c.Type != FeeReceiving {
		return c, apperr.E(apperr.InvalidInput, "fee type must be SENDING or RECEIVING")
	}
	if c.BasisPoints < 0 || c.BasisPoints > basisPointsMax {
		return c, apperr.E(apperr.InvalidInput, "Basis point fee must be between 0 and 10000")
	}
	return c, nil
}

func assetID(v string) (string, error) {
	id, ok := valid.ID(v)
	if !ok {
		return "", apperr.E(apperr.InvalidInput, "invalid asset id")
	}
	return id, nil
}
