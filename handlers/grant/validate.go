package grant

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/valid"
)

// Bounds on a grant request, so that one request cannot make a grant too
// large to fold or show: Open Payments clients ask for a handful of items.
const (
	accessItemsMax   = 16
	subjectIDsMax    = 16
	startModesMax    = 4
	jwkBytesMax      = 2048
	accessJSONMax    = 64 << 10
	finishURILenMax  = 2048
	assetCodeLenMax  = 255
	identifierLenMax = valid.TextLengthMax
)

// actionsByType are the actions Open Payments defines for each access type.
var actionsByType = map[string][]string{
	TypeIncomingPayment: {ActionCreate, ActionComplete, ActionRead, ActionReadAll, ActionList, ActionListAll},
	TypeOutgoingPayment: {ActionCreate, ActionRead, ActionReadAll, ActionList, ActionListAll},
	TypeQuote:           {ActionCreate, ActionRead, ActionReadAll},
}

func invalid(format string, args ...any) error {
	return gnapErr(InvalidRequest, apperr.InvalidInput, fmt.Sprintf(format, args...))
}

// checkRequest checks a grant request's input; it returns the command with
// its tenant id in canonical form.
func checkRequest(c commands.RequestGrant) (commands.RequestGrant, error) {
	id, ok := valid.ID(c.TenantID)
	if !ok {
		return c, apperr.E(apperr.InvalidInput, "invalid tenant id")
	}
	c.TenantID = id
	if err := checkAccess(c.Access); err != nil {
		return c, err
	}
	if len(c.Subject) > subjectIDsMax {
		return c, invalid("more than %d subject ids", subjectIDsMax)
	}
	for _, s := range c.Subject {
		if s.ID == "" || s.Format == "" || !valid.Text(s.ID, valid.TextLengthMax) || !valid.Text(s.Format, valid.TextLengthMax) {
			return c, invalid("invalid subject id")
		}
	}
	if err := checkClient(c.Client); err != nil {
		return c, err
	}
	return c, checkInteract(c.Interact)
}

// checkAccess checks an access list: types and their actions, identifiers,
// and limits (outgoing payments only).
func checkAccess(access []events.GrantAccess) error {
	if len(access) > accessItemsMax {
		return invalid("more than %d access items", accessItemsMax)
	}
	for _, a := range access {
		allowed, ok := actionsByType[a.Type]
		if !ok {
			return invalid("invalid access type %q", a.Type)
		}
		if len(a.Actions) == 0 {
			return invalid("access of type %s without actions", a.Type)
		}
		for i, act := range a.Actions {
			if !slices.Contains(allowed, act) || slices.Contains(a.Actions[:i], act) {
				return invalid("invalid or repeated action %q for %s", act, a.Type)
			}
		}
		if a.Identifier != "" && !valid.HTTPURL(a.Identifier, identifierLenMax) {
			return invalid("invalid access identifier")
		}
		if a.Limits != nil {
			if a.Type != TypeOutgoingPayment {
				return invalid("limits apply to outgoing payments only")
			}
			if err := checkLimits(*a.Limits); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkLimits(l events.GrantLimits) error {
	if l.Receiver != "" && !valid.HTTPURL(l.Receiver, valid.TextLengthMax) {
		return invalid("invalid limits receiver")
	}
	for _, a := range []*events.GrantAmount{l.DebitAmount, l.ReceiveAmount} {
		if a != nil && (!valid.Amount(a.Value) || a.AssetCode == "" || !valid.Text(a.AssetCode, assetCodeLenMax)) {
			return invalid("invalid limits amount")
		}
	}
	if l.Interval != "" {
		if _, err := valid.ParseInterval(l.Interval); err != nil {
			return invalid("invalid limits interval: %v", err)
		}
	}
	return nil
}

// checkClient takes a client named by exactly one of a wallet address URL
// or an Ed25519 public key (Open Payments keys) given inline.
func checkClient(c events.GrantClient) error {
	if (c.WalletAddress == "") == (len(c.JWK) == 0) {
		return gnapErr(InvalidClient, apperr.InvalidInput, "client must be a wallet address or a jwk")
	}
	if c.WalletAddress != "" {
		if !valid.HTTPURL(c.WalletAddress, valid.TextLengthMax) {
			return gnapErr(InvalidClient, apperr.InvalidInput, "invalid client wallet address")
		}
		return nil
	}
	if len(c.JWK) > jwkBytesMax {
		return gnapErr(InvalidClient, apperr.InvalidInput, fmt.Sprintf("jwk larger than %d bytes", jwkBytesMax))
	}
	var k struct {
		Kid string `json:"kid"`
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(c.JWK, &k); err != nil {
		return gnapErr(InvalidClient, apperr.InvalidInput, "jwk is not a JSON object")
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(x) != 32 || k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Alg != "" && k.Alg != "EdDSA") ||
		k.Kid == "" || !valid.Text(k.Kid, valid.TextLengthMax) {
		return gnapErr(InvalidClient, apperr.InvalidInput, "jwk is not an Ed25519 public key with a kid")
	}
	return nil
}

func checkInteract(i *events.GrantInteract) error {
	if i == nil {
		return nil
	}
	if len(i.Start) == 0 || len(i.Start) > startModesMax {
		return invalid("interact.start needs 1 to %d modes", startModesMax)
	}
	for _, m := range i.Start {
		if m != "redirect" {
			return invalid("unsupported interaction start mode %q", m)
		}
	}
	if f := i.Finish; f != nil {
		if f.Method != "redirect" {
			return invalid("unsupported interaction finish method %q", f.Method)
		}
		if !valid.HTTPURL(f.URI, finishURILenMax) {
			return invalid("invalid interaction finish uri")
		}
		if !valid.Nonce(f.Nonce) {
			return invalid("invalid interaction finish nonce")
		}
	}
	return nil
}

// DecodeAccess reads an access list as a grant request carries it
// (access_token.access), at most 64 KiB, and checks it.
func DecodeAccess(data []byte) ([]events.GrantAccess, error) {
	if len(data) > accessJSONMax {
		return nil, invalid("access list larger than %d bytes", accessJSONMax)
	}
	var access []events.GrantAccess
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&access); err != nil {
		return nil, invalid("access list: %v", err)
	}
	if d.More() {
		return nil, invalid("access list followed by more data")
	}
	return access, checkAccess(access)
}

func grantID(v string) (string, error) { return anID(v, "grant id") }

func anID(v, what string) (string, error) {
	id, ok := valid.ID(v)
	if !ok {
		return "", apperr.E(apperr.InvalidInput, "invalid %s", what)
	}
	return id, nil
}

// checkSecret checks a presented token or nonce: empty or printable ASCII.
func checkSecret(v, what string) error {
	if v != "" && !valid.Token(v) {
		return invalid("invalid %s", what)
	}
	return nil
}

func checkContinue(c commands.ContinueGrant) (commands.ContinueGrant, error) {
	var err error
	if c.GrantID, err = grantID(c.GrantID); err != nil {
		return c, err
	}
	if c.ContinueID, err = anID(c.ContinueID, "continue id"); err != nil {
		return c, err
	}
	if err := checkSecret(c.ContinueToken, "continuation token"); err != nil {
		return c, err
	}
	return c, checkSecret(c.InteractRef, "interact_ref")
}

func checkRevoke(c commands.RevokeGrant) (commands.RevokeGrant, error) {
	var err error
	if c.GrantID, err = grantID(c.GrantID); err != nil {
		return c, err
	}
	if c.ContinueID != "" {
		if c.ContinueID, err = anID(c.ContinueID, "continue id"); err != nil {
			return c, err
		}
	}
	return c, checkSecret(c.ContinueToken, "continuation token")
}

func checkInteraction(grant, interaction, nonce string) (string, string, error) {
	g, err := grantID(grant)
	if err != nil {
		return "", "", err
	}
	i, err := anID(interaction, "interaction id")
	if err != nil {
		return "", "", err
	}
	return g, i, checkSecret(nonce, "nonce")
}

func checkToken(grant, token, value string) (string, string, error) {
	g, err := grantID(grant)
	if err != nil {
		return "", "", err
	}
	t, err := anID(token, "token id")
	if err != nil {
		return "", "", err
	}
	return g, t, checkSecret(value, "access token")
}
