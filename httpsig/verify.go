package httpsig

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options are what a verifier is configured with.
type Options struct {
	// PublicBaseURL is the scheme and host (and a path prefix a proxy
	// removes) clients address this service by; nil means the scheme and
	// Host the request arrived with.
	PublicBaseURL *url.URL
	// AlsoHTTP accepts, besides the https PublicBaseURL, its http form:
	// clients told to reach https URLs over plain http (USE_HTTP, the Open
	// Payments client's useHttp) sign the URL they requested.
	AlsoHTTP bool
	// Window is how old a signature's created may be. Default 5 minutes.
	Window time.Duration
	// Skew is how far in the future created may be. Default 30 s.
	Skew time.Duration
	// Replay records signatures; required.
	Replay ReplayGuard
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Window <= 0 {
		o.Window = 5 * time.Minute
	}
	if o.Skew <= 0 {
		o.Skew = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// RepeatGrace is how long after its first use a signature without a nonce
// is taken again: a client signing without one (the Open Payments SDK)
// repeats a signature only while the second of its created lasts.
const RepeatGrace = 2 * time.Second

// Verified is what a verified signature tells.
type Verified struct {
	KeyID   string
	Created time.Time
}

// sigParams are the parameters of a signature the profile accepts.
type sigParams struct {
	keyID      string
	created    int64
	hasCreated bool
	expires    int64
	hasExpires bool
	hasNonce   bool
}

// Verify checks req's sig1 signature under the Open Payments profile; body
// is req's body, already read. Checks run cheapest first, so that a stale
// or malformed request costs no key fetch, and the signature is recorded
// as used only once everything else holds.
func Verify(req *http.Request, body []byte, keys KeySource, opts Options) (Verified, error) {
	opts = opts.withDefaults()
	if opts.Replay == nil {
		return Verified{}, refuse(ReasonReplayGuardUnavailable, "no replay guard is configured")
	}
	list, sig, err := readSignature(req.Header)
	if err != nil {
		return Verified{}, err
	}
	p, err := readParams(list.params)
	if err != nil {
		return Verified{}, err
	}
	if err := checkComponents(req.Header, body, list.items); err != nil {
		return Verified{}, err
	}

	now := opts.Now()
	created := time.Unix(p.created, 0)
	if now.Sub(created) > opts.Window {
		return Verified{}, refuse(ReasonExpired, "signature created %s, more than %s ago", created.UTC().Format(time.RFC3339), opts.Window)
	}
	if created.Sub(now) > opts.Skew {
		return Verified{}, refuse(ReasonFuture, "signature created %s, in the future", created.UTC().Format(time.RFC3339))
	}
	if p.hasExpires && now.Unix() > p.expires {
		return Verified{}, refuse(ReasonExpired, "signature expired at %d", p.expires)
	}

	if slices.Contains(list.items, "content-digest") {
		if err := checkBody(req.Header, body); err != nil {
			return Verified{}, err
		}
	}
	base, err := signatureBase(req, opts.PublicBaseURL, list.items, list.serialize())
	if err != nil {
		return Verified{}, err
	}

	pub, err := keys.Key(req.Context(), p.keyID)
	if err != nil {
		if ReasonOf(err) == "" {
			err = &Error{Reason: ReasonKeyUnavailable, Message: "the client's key could not be found", Cause: err}
		}
		return Verified{}, err
	}
	if len(pub) != ed25519.PublicKeySize {
		return Verified{}, refuse(ReasonBadSignature, "key %q is not an Ed25519 public key", p.keyID)
	}
	if !ed25519.Verify(pub, []byte(base), sig) {
		overHTTP, err := httpForm(req, opts, list)
		if err != nil || overHTTP == "" || !ed25519.Verify(pub, []byte(overHTTP), sig) {
			return Verified{}, refuse(ReasonBadSignature, "signature does not verify with key %q", p.keyID)
		}
	}

	// Ed25519 signatures are deterministic and Go refuses non-canonical
	// ones, so the signature names exactly what was signed.
	sum := sha256.Sum256(append([]byte(p.keyID+"\x00"), sig...))
	first, fresh, err := opts.Replay.Use(req.Context(), hex.EncodeToString(sum[:]), now, opts.Window+opts.Skew)
	if err != nil {
		return Verified{}, &Error{Reason: ReasonReplayGuardUnavailable, Message: "the replay guard did not answer; retry later", Cause: err}
	}
	// Without a nonce a signature is a function of the request and the
	// second it was made in: the Open Payments SDK signs so, and sends the
	// same signature again when it repeats a request within that second
	// (polling a payment, paying the same amount twice). Such a repeat
	// arrives within RepeatGrace of the first use; later, it is a replay.
	if !fresh && (p.hasNonce || now.Sub(first) > RepeatGrace) {
		return Verified{}, refuse(ReasonReplayed, "signature has already been used")
	}
	return Verified{KeyID: p.keyID, Created: created}, nil
}

// readSignature parses Signature-Input and Signature, which must each hold
// exactly one member, sig1.
func readSignature(h http.Header) (sfInnerList, []byte, error) {
	input := strings.Join(h.Values("Signature-Input"), ", ")
	sigField := strings.Join(h.Values("Signature"), ", ")
	if input == "" || sigField == "" {
		return sfInnerList{}, nil, refuse(ReasonMalformed, "the request has no Signature-Input or no Signature")
	}
	inputs, err := parseSignatureInput(input)
	if err != nil {
		return sfInnerList{}, nil, refuse(ReasonMalformed, "Signature-Input: %v", err)
	}
	sigs, err := parseByteSeqDict(sigField)
	if err != nil {
		return sfInnerList{}, nil, refuse(ReasonMalformed, "Signature: %v", err)
	}
	list, ok := inputs[label]
	sig, sigOK := sigs[label]
	if !ok || !sigOK {
		return sfInnerList{}, nil, refuse(ReasonWrongLabel, "the signature must be labelled %s", label)
	}
	if len(inputs) != 1 || len(sigs) != 1 {
		return sfInnerList{}, nil, refuse(ReasonMalformed, "exactly one signature, %s, is accepted", label)
	}
	if len(sig) != ed25519.SignatureSize {
		return sfInnerList{}, nil, refuse(ReasonMalformed, "signature is %d bytes, not %d", len(sig), ed25519.SignatureSize)
	}
	return list, sig, nil
}

func readParams(params []sfParam) (sigParams, error) {
	var p sigParams
	for _, q := range params {
		switch {
		case q.key == "keyid" && !q.isInt && q.str != "":
			p.keyID = q.str
		case q.key == "created" && q.isInt && q.num >= 0:
			p.created, p.hasCreated = q.num, true
		case q.key == "expires" && q.isInt:
			p.expires, p.hasExpires = q.num, true
		case q.key == "alg" && !q.isInt && q.str == "ed25519":
		case q.key == "nonce" && !q.isInt:
			p.hasNonce = true
		case q.key == "tag" && !q.isInt:
		case q.key == "keyid" || q.key == "created" || q.key == "expires" || q.key == "alg" || q.key == "nonce" || q.key == "tag":
			return p, refuse(ReasonUnsupportedParameter, "parameter %s has a value the profile does not accept", q.key)
		default:
			return p, refuse(ReasonUnsupportedParameter, "parameter %s is not accepted", q.key)
		}
	}
	if p.keyID == "" || !p.hasCreated {
		return p, refuse(ReasonMalformed, "the signature must have keyid and created")
	}
	return p, nil
}

// checkComponents holds the covered components to the profile, in any
// order: @method and @target-uri always; authorization when the request
// has one; the three body components when there is a body, and all three
// or none.
func checkComponents(h http.Header, body []byte, components []string) error {
	for i, c := range components {
		if _, ok := knownComponents[c]; !ok {
			return refuse(ReasonUnsupportedComponent, "component %q is not accepted", c)
		}
		if slices.Contains(components[:i], c) {
			return refuse(ReasonMalformed, "component %q is covered twice", c)
		}
	}
	require := []string{"@method", "@target-uri"}
	if len(h.Values("Authorization")) > 0 {
		require = append(require, "authorization")
	}
	covered := 0
	for _, c := range bodyComponents {
		if slices.Contains(components, c) {
			covered++
		}
	}
	if len(body) > 0 || covered > 0 {
		require = append(require, bodyComponents...)
	}
	for _, c := range require {
		if !slices.Contains(components, c) {
			return refuse(ReasonMissingComponent, "the signature must cover %s", c)
		}
	}
	return nil
}

// checkBody checks Content-Length and every digest in Content-Digest
// against body. Only sha-256 and sha-512 are accepted, so no digest in the
// field goes unchecked.
func checkBody(h http.Header, body []byte) error {
	length, _, err := fieldValue(h, "Content-Length")
	if err != nil {
		return err
	}
	if length != strconv.Itoa(len(body)) {
		return refuse(ReasonBadContentLength, "Content-Length %q, body of %d bytes", length, len(body))
	}
	field, _, err := fieldValue(h, "Content-Digest")
	if err != nil {
		return err
	}
	digests, err := parseByteSeqDict(field)
	if err != nil {
		return refuse(ReasonMalformed, "Content-Digest: %v", err)
	}
	for alg, want := range digests {
		var got []byte
		switch alg {
		case "sha-256":
			s := sha256.Sum256(body)
			got = s[:]
		case "sha-512":
			s := sha512.Sum512(body)
			got = s[:]
		default:
			return refuse(ReasonBadDigest, "Content-Digest algorithm %s is not accepted; use sha-256 or sha-512", alg)
		}
		if !bytes.Equal(got, want) {
			return refuse(ReasonBadDigest, "Content-Digest %s does not match the body", alg)
		}
	}
	return nil
}

// httpForm is the signature base over the http form of an https public base
// URL, when AlsoHTTP allows it ("" otherwise).
func httpForm(req *http.Request, opts Options, list sfInnerList) (string, error) {
	if !opts.AlsoHTTP || opts.PublicBaseURL == nil || opts.PublicBaseURL.Scheme != "https" {
		return "", nil
	}
	plain := *opts.PublicBaseURL
	plain.Scheme = "http"
	return signatureBase(req, &plain, list.items, list.serialize())
}
