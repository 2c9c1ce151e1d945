// Package openpayments serves the Open Payments API: the wallet address
// server now, the resource server as its domains land.
package openpayments

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/connector/stream"
	"github.com/rafiki-go/rafiki/handlers/walletaddress"
	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/ratelog"
	"github.com/rafiki-go/rafiki/readmodel"
	"github.com/rafiki-go/rafiki/streams"
	"github.com/rafiki-go/rafiki/valid"
)

// Config is what the wallet address server needs to know.
type Config struct {
	OpenPaymentsURL    string // OPEN_PAYMENTS_URL
	AuthServerGrantURL string // AUTH_SERVER_GRANT_URL
	CacheTTL           time.Duration
	// Applied is the last wallet address event the read model is known to
	// have applied (the projection's checkpoint).
	Applied func() uint64
	// SPSP answers Accept: application/spsp4+json with STREAM credentials
	// (ENABLE_SPSP_PAYMENT_POINTERS); Stream makes them; ILPAddress is the
	// address for tenants without an ILP_ADDRESS setting.
	SPSP       bool
	Stream     *stream.Credentials
	ILPAddress string
	// TrustProxy (TRUST_PROXY) takes the scheme a proxy in front names in
	// X-Forwarded-Proto; otherwise the header is anyone's to send, and
	// OPEN_PAYMENTS_URL's scheme holds.
	TrustProxy bool
	// ClientWalletAddress (WALLET_ADDRESS_URL) names the backend when it is
	// a client of other wallets; its jwks.json is ClientKey, and it has no
	// document, as in Rafiki.
	ClientWalletAddress string
	ClientKey           httpsig.JWK
	// NotFoundPolling (WALLET_ADDRESS_NOT_FOUND_POLLING_ENABLED): a lookup
	// that finds no wallet address records it with NotFound (a
	// wallet_address.not_found webhook follows) and looks again every
	// PollingFrequency (WALLET_ADDRESS_POLLING_FREQUENCY_MS) for up to
	// LookupTimeout (WALLET_ADDRESS_LOOKUP_TIMEOUT_MS), so that an account
	// servicing entity creating it on the webhook answers this lookup.
	NotFoundPolling  bool
	NotFound         func(ctx context.Context, url string) error
	LookupTimeout    time.Duration
	PollingFrequency time.Duration
	// IncomingPaymentVisible waits until the incoming payments read model
	// has applied the event at sequence. The connector finds receivers
	// there, so a payment created over Open Payments is answered once it
	// can be paid, as Rafiki answers it once it is stored.
	IncomingPaymentVisible func(ctx context.Context, sequence uint64) error
}

// WalletAddresses serves wallet address documents and their keys.
type WalletAddresses struct {
	read   *readmodel.Reader
	cfg    Config
	scheme string
	cache  *docCache
	log    *slog.Logger
}

// NewWalletAddresses builds the server; Follow must run for its cache to
// learn about changes.
func NewWalletAddresses(read *readmodel.Reader, cfg Config, log *slog.Logger) *WalletAddresses {
	scheme := "https"
	if strings.HasPrefix(cfg.OpenPaymentsURL, "http://") {
		scheme = "http"
	}
	return &WalletAddresses{read: read, cfg: cfg, scheme: scheme, cache: newDocCache(cfg.CacheTTL), log: log}
}

// Follow reads wallet address events as they are stored, with an ordered
// consumer that resumes where it stopped after a reconnection, so that
// cached documents follow them. It stops when ctx ends.
func (s *WalletAddresses) Follow(ctx context.Context, js jetstream.JetStream, stream string) error {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"events.*." + walletaddress.AggregateType + ".*"},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("follow wallet address events: %w", err)
	}
	consumption, err := cons.Consume(func(m jetstream.Msg) {
		// The subject ends with the wallet address's id, all the cache
		// needs: the event itself is not decoded.
		subject := m.Subject()
		id := subject[strings.LastIndexByte(subject, '.')+1:]
		meta, err := m.Metadata()
		if err != nil || id == "" {
			s.log.Warn("unreadable wallet address event; cache reset", "subject", subject, "err", err)
			s.cache.resetNow()
			return
		}
		s.cache.changed(id, meta.Sequence.Stream, time.Now())
	}, streams.ConsumeOptions()...)
	if err != nil {
		return fmt.Errorf("follow wallet address events: %w", err)
	}
	// Documents cached before the consumer started could have missed an
	// event; start empty now that it runs.
	s.cache.resetNow()
	go func() {
		<-ctx.Done()
		consumption.Stop()
	}()
	return nil
}

// ServeHTTP answers GET /<path> with the wallet address document and
// GET /<path>/jwks.json with its keys.
func (s *WalletAddresses) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	path := r.URL.Path
	if keys, ok := strings.CutSuffix(path, "/jwks.json"); ok {
		if s.client(r, keys) {
			s.clientKeys(w, r)
			return
		}
		s.keys(w, r, s.addressURL(r, keys))
		return
	}
	if s.client(r, path) {
		writeError(w, http.StatusNotFound, "Could not get wallet address")
		return
	}
	if s.cfg.SPSP && strings.Contains(r.Header.Get("Accept"), spspContentType) {
		s.spsp(w, r, s.addressURL(r, path))
		return
	}
	s.document(w, r, s.addressURL(r, path))
}

// addressURL is the wallet address a request names: the scheme of
// OPEN_PAYMENTS_URL (or of the proxy in front, when trusted), the host
// asked for, the path.
func (s *WalletAddresses) addressURL(r *http.Request, path string) string {
	scheme := s.scheme
	if proto := r.Header.Get("X-Forwarded-Proto"); s.cfg.TrustProxy && (proto == "http" || proto == "https") {
		scheme = proto
	}
	return strings.ToLower(scheme + "://" + r.Host + strings.TrimSuffix(path, "/"))
}

// client reports whether path names the backend's own client wallet
// address.
func (s *WalletAddresses) client(r *http.Request, path string) bool {
	return s.cfg.ClientWalletAddress != "" && s.addressURL(r, path) == strings.ToLower(s.cfg.ClientWalletAddress)
}

func (s *WalletAddresses) clientKeys(w http.ResponseWriter, r *http.Request) {
	body, err := json.Marshal(struct {
		Keys []httpsig.JWK `json:"keys"`
	}{[]httpsig.JWK{s.cfg.ClientKey}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, body)
}

func (s *WalletAddresses) document(w http.ResponseWriter, r *http.Request, url string) {
	now := time.Now()
	// The cache is used only while its follower has seen every event the
	// read model has applied: a change a client was told about is then
	// either applied to the cache or not yet visible anywhere.
	if s.cache.seen.Load() >= s.cfg.Applied() {
		if body, ok := s.cache.get(url, now); ok {
			writeJSON(w, body)
			return
		}
	}
	wa, ok := s.active(w, r, url)
	if !ok {
		return
	}
	body, err := s.render(r.Context(), wa)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.cache.put(url, wa.ID, wa.Version, body, now)
	writeJSON(w, body)
}

func (s *WalletAddresses) render(ctx context.Context, wa *readmodel.WalletAddress) ([]byte, error) {
	props, err := s.read.Properties(ctx, wa.ID, true)
	if err != nil {
		return nil, err
	}
	doc := struct {
		ID                   string            `json:"id"`
		PublicName           *string           `json:"publicName,omitempty"`
		AssetCode            string            `json:"assetCode"`
		AssetScale           uint8             `json:"assetScale"`
		AuthServer           string            `json:"authServer"`
		ResourceServer       string            `json:"resourceServer"`
		AdditionalProperties map[string]string `json:"additionalProperties,omitempty"`
	}{
		ID: wa.Address, PublicName: wa.PublicName, AssetCode: wa.Asset.Code, AssetScale: wa.Asset.Scale,
		AuthServer:     withSlash(s.cfg.AuthServerGrantURL) + wa.TenantID,
		ResourceServer: withSlash(s.cfg.OpenPaymentsURL) + wa.TenantID,
	}
	if len(props) > 0 {
		doc.AdditionalProperties = make(map[string]string, len(props))
		for _, p := range props {
			doc.AdditionalProperties[p.Key] = p.Value
		}
	}
	return json.Marshal(doc)
}

func (s *WalletAddresses) keys(w http.ResponseWriter, r *http.Request, url string) {
	wa, ok := s.active(w, r, url)
	if !ok {
		return
	}
	keys, err := s.read.ActiveKeys(r.Context(), wa.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	type jwk struct {
		Kid string `json:"kid"`
		X   string `json:"x"`
		Alg string `json:"alg"`
		Kty string `json:"kty"`
		Crv string `json:"crv"`
	}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jwk{Kid: k.Kid, X: k.X, Alg: k.Alg, Kty: k.Kty, Crv: k.Crv})
	}
	body, err := json.Marshal(set)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, body)
}

// active finds the active wallet address at url, or answers 404 (or 500)
// itself and reports false.
func (s *WalletAddresses) active(w http.ResponseWriter, r *http.Request, url string) (*readmodel.WalletAddress, bool) {
	if !valid.Text(url, valid.TextLengthMax) {
		// No wallet address has such a URL (their URLs are checked when
		// made), and Postgres would refuse the lookup (a NUL byte).
		writeError(w, http.StatusNotFound, "Could not get wallet address")
		return nil, false
	}
	wa, err := s.read.WalletAddressByURL(r.Context(), url, nil)
	if wa == nil && err == nil && s.cfg.NotFoundPolling && s.cfg.NotFound != nil {
		wa, err = s.poll(r.Context(), url)
	}
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	if wa == nil || !wa.Active() {
		writeError(w, http.StatusNotFound, "Could not get wallet address")
		return nil, false
	}
	return wa, true
}

// poll records that url was not found and looks for it again until
// LookupTimeout, as Rafiki's getOrPollByUrl does; nil when it did not
// appear. A miss that cannot be recorded is logged: the lookup still
// answers.
func (s *WalletAddresses) poll(ctx context.Context, url string) (*readmodel.WalletAddress, error) {
	if err := s.cfg.NotFound(ctx, url); err != nil {
		s.log.Warn("wallet address lookup miss not recorded", "url", url, "err", err)
	}
	deadline := time.NewTimer(s.cfg.LookupTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(max(s.cfg.PollingFrequency, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, nil
		case <-tick.C:
		}
		wa, err := s.read.WalletAddressByURL(ctx, url, nil)
		if err != nil || wa != nil {
			return wa, err
		}
	}
}

func (s *WalletAddresses) fail(w http.ResponseWriter, r *http.Request, err error) {
	fail(s.log, w, r, err)
}

// unserved spaces the lines of requests a service failed: while it is down
// every request fails so.
var unserved = ratelog.New(time.Second)

// fail answers an error the client cannot act on: 503 when something the
// request waited for did not answer in time (the error says what), 500
// otherwise.
func fail(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	if kind := apperr.KindOf(err); kind == apperr.Unavailable {
		unserved.Log(r.Context(), log, slog.LevelWarn, "open payments request unserved: a service it needs did not answer, or not in time",
			"path", r.URL.Path, "err", err)
		writeError(w, apperr.Lookup(kind).HTTP, apperr.Message(err))
		return
	}
	log.Error("open payments request failed", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "Internal error")
}

func withSlash(u string) string {
	if strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}

func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// deactivated answers 400 for a wallet address that was deactivated, as
// Rafiki answers every route of a wallet address's incoming payments,
// quotes and outgoing payments: its payments take no more calls, so a
// payment made before cannot be read for its STREAM credentials or
// completed.
func deactivated(w http.ResponseWriter, wa *readmodel.WalletAddress) bool {
	if wa.Active() {
		return false
	}
	writeError(w, http.StatusBadRequest, "Could not get wallet address")
	return true
}

// writeError answers in the Open Payments error shape.
func writeError(w http.ResponseWriter, status int, description string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{
		"code": fmt.Sprint(status), "description": description,
	}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
