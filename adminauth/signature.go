package adminauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// signature is a parsed `signature` header: "t=<ms>, v<version>=<hex digest>".
type signature struct {
	// rawTimestamp is t exactly as sent: the client signed that text, so
	// re-formatting the parsed number (say, dropping leading zeros) would
	// break verification.
	rawTimestamp string
	timestamp    int64 // milliseconds since the Unix epoch
	version      int
	digest       []byte
	// nonce is the header's n= part, as Rafiki's clients send it: not
	// signed, it tells apart identical bodies signed in the same
	// millisecond by concurrent clients (the replay guard, firstUse).
	nonce string
}

// parseSignatureHeader parses the signature header. Parts other than t,
// v<version> and Rafiki clients' n= nonce are ignored: they are not signed,
// so nothing may depend on them; the nonce, not signed either, only tells
// the replay guard apart requests that are otherwise the same. Errors never
// quote the input: it is attacker-controlled and ends up in responses and
// logs.
func parseSignatureHeader(h string) (signature, error) {
	var sig signature
	var haveT, haveV bool
	for part := range strings.SplitSeq(h, ",") {
		key, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		if key == "t" {
			if haveT {
				return signature{}, errors.New("more than one timestamp")
			}
			// ParseUint rejects signs, so the raw text is plain digits.
			ts, err := strconv.ParseUint(val, 10, 63)
			if err != nil {
				return signature{}, errors.New("timestamp is not a non-negative integer")
			}
			sig.rawTimestamp, sig.timestamp, haveT = val, int64(ts), true
			continue
		}
		if key == "n" {
			if sig.nonce != "" {
				return signature{}, errors.New("more than one nonce")
			}
			if val == "" || len(val) > nonceLengthMax {
				return signature{}, fmt.Errorf("nonce is empty or longer than %d characters", nonceLengthMax)
			}
			sig.nonce = val
			continue
		}
		version, ok := versionOf(key)
		if !ok {
			continue
		}
		if haveV {
			return signature{}, errors.New("more than one signature")
		}
		digest, err := hex.DecodeString(val)
		if err != nil || len(digest) != sha256.Size {
			return signature{}, errors.New("signature is not a hex-encoded HMAC-SHA256 digest")
		}
		sig.version, sig.digest, haveV = version, digest, true
	}
	if !haveT {
		return signature{}, errors.New("missing timestamp (t=)")
	}
	if !haveV {
		return signature{}, errors.New("missing signature (v<version>=)")
	}
	return sig, nil
}

// versionOf reports the version n of a "v<n>" part key.
func versionOf(key string) (int, bool) {
	digits, ok := strings.CutPrefix(key, "v")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 31)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// Sign builds the signature header value for a body at a time (used by
// clients, the admin UI and tests).
func Sign(secret string, version int, body []byte, at time.Time) (string, error) {
	if version < 1 {
		return "", fmt.Errorf("signature version must be at least 1, got %d", version)
	}
	canonical, err := canonicalJSON(body)
	if err != nil {
		return "", fmt.Errorf("canonicalizing body: %w", err)
	}
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	return signature{rawTimestamp: ts, version: version, digest: digest(secret, ts, canonical)}.String(), nil
}

// String is the canonical header form, the one Rafiki's clients send.
func (sig signature) String() string {
	return fmt.Sprintf("t=%s, v%d=%s", sig.rawTimestamp, sig.version, hex.EncodeToString(sig.digest))
}

// nonceLengthMax bounds the n= part, which names a Redis key.
const nonceLengthMax = 128

// replayKey names exactly what was signed: the digest is an HMAC over the
// timestamp and the canonical body under the tenant's secret, and the
// tenant and version say which secret and scheme. Any part of the header
// that is not signed (spacing, case, extra parts) leaves it unchanged, so a
// captured request cannot be sent again by dressing up its header. The
// braces keep it and its nonces' keys on one node of a Redis cluster.
func (sig signature) replayKey(tenantID string) string {
	return fmt.Sprintf("signature:{%s:v%d:%x}", tenantID, sig.version, sig.digest)
}

// matches reports whether sig was made with secret over the canonical body.
func (sig signature) matches(secret string, canonical []byte) bool {
	return hmac.Equal(digest(secret, sig.rawTimestamp, canonical), sig.digest)
}

// digest is HMAC-SHA256(secret, "<timestamp>.<canonical body>"), Rafiki's
// signed payload.
func digest(secret, timestamp string, canonical []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(canonical)
	return mac.Sum(nil)
}
