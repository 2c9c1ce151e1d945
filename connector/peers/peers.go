// Package peers is the connector's view of the instance's peers: who an
// incoming ILP-over-HTTP token belongs to, which peer a destination routes
// to, and the assets they hold. It is held in memory, folded from every peer event and kept
// current by following them, so that packets never wait for a database.
//
// Routing is static, as Rafiki's: each peer's routes (its static ILP
// address when it names none) are prefixes of ILP addresses within its
// tenant; a destination goes to the peer with the longest prefix that is the
// destination or a leading run of its dot-separated segments, never back to
// the peer the packet came from, at random among equals.
package peers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rafiki-go/rafiki/events"
)

// Subjects are what the table follows: every peer event
// (events.<tenant>.peer.<peer id>) and every asset event, for the assets'
// codes, scales and ledgers.
var Subjects = []string{"events.*.peer.*", "events.*.asset.*"}

// Asset is what the connector needs of an asset.
type Asset struct {
	ID     string
	Code   string
	Scale  uint8
	Ledger uint32
}

// Peer is what the connector needs of a peer.
type Peer struct {
	ID               string
	TenantID         string
	AssetID          string
	StaticILPAddress string
	MaxPacketAmount  *uint64
	OutgoingToken    string
	OutgoingEndpoint string
	Routes           []string
	incoming         []string
}

// Opener opens the secrets sealed in events (secrets.Keyring): the peers'
// tokens.
type Opener interface {
	OpenEvent(ctx context.Context, env events.Envelope, ev events.Event) (events.Event, error)
}

// Table holds the peers of every tenant.
type Table struct {
	mu      sync.RWMutex
	assets  map[string]Asset
	peers   map[string]*Peer
	byToken map[[sha256.Size]byte]string
	// routes are, by tenant, the peers each prefix routes to.
	routes  map[string]map[string][]string
	applied atomic.Uint64
}

// NewTable makes an empty table; Follow fills it.
func NewTable() *Table {
	return &Table{assets: map[string]Asset{}, peers: map[string]*Peer{}, byToken: map[[sha256.Size]byte]string{}, routes: map[string]map[string][]string{}}
}

// Applied is the stream sequence of the last peer event the table holds.
func (t *Table) Applied() uint64 { return t.applied.Load() }

// Apply folds one peer or asset event, its secrets open, into the table.
func (t *Table) Apply(env events.Envelope, ev events.Event) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := env.AggregateID
	switch e := ev.(type) {
	case *events.AssetCreated:
		t.assets[id] = Asset{ID: id, Code: e.Code, Scale: e.Scale, Ledger: e.Ledger}
	case *events.AssetThresholdsSet, *events.AssetDeleted, *events.AssetReactivated, *events.FeeSet:
		// Nothing the connector routes or converts with.
	case *events.PeerCreated:
		if _, exists := t.peers[id]; !exists {
			t.add(&Peer{ID: id, TenantID: env.TenantID, AssetID: e.AssetID, StaticILPAddress: e.StaticILPAddress,
				MaxPacketAmount: e.MaxPacketAmount, OutgoingToken: e.OutgoingAuthToken, OutgoingEndpoint: e.OutgoingEndpoint,
				Routes: e.Routes, incoming: e.IncomingAuthTokens})
		}
	case *events.PeerUpdated:
		old, ok := t.peers[id]
		if !ok {
			break
		}
		p := *old
		if e.StaticILPAddress != nil {
			p.StaticILPAddress = *e.StaticILPAddress
		}
		if e.MaxPacketAmount != nil {
			p.MaxPacketAmount = e.MaxPacketAmount
		}
		if e.OutgoingAuthToken != nil {
			p.OutgoingToken = *e.OutgoingAuthToken
		}
		if e.OutgoingEndpoint != nil {
			p.OutgoingEndpoint = *e.OutgoingEndpoint
		}
		if e.Routes != nil {
			p.Routes = *e.Routes
		}
		if e.IncomingAuthTokens != nil {
			p.incoming = *e.IncomingAuthTokens
		}
		t.remove(old)
		t.add(&p)
	case *events.PeerDeleted:
		if old, ok := t.peers[id]; ok {
			t.remove(old)
		}
	default:
		// Liquidity movements share their asset's or peer's subject; the
		// ledger, not the table, holds their money.
		if !strings.HasPrefix(env.Type, "liquidity.") {
			return fmt.Errorf("peer table: %s is neither a peer nor an asset event", env.Type)
		}
	}
	t.passed(env.Sequence)
	return nil
}

// passed records that the table has gone past the event at sequence,
// applied or not; the caller holds the lock or is the only writer.
func (t *Table) passed(sequence uint64) {
	if sequence > t.applied.Load() {
		t.applied.Store(sequence)
	}
}

// routesOf are the prefixes a peer is reached by: its routes, or its
// static ILP address when it names none.
func routesOf(p *Peer) []string {
	if len(p.Routes) > 0 {
		return p.Routes
	}
	return []string{p.StaticILPAddress}
}

func (t *Table) add(p *Peer) {
	t.peers[p.ID] = p
	for _, token := range p.incoming {
		t.byToken[sha256.Sum256([]byte(token))] = p.ID
	}
	tenant := t.routes[p.TenantID]
	if tenant == nil {
		tenant = map[string][]string{}
		t.routes[p.TenantID] = tenant
	}
	for _, prefix := range routesOf(p) {
		tenant[prefix] = append(tenant[prefix], p.ID)
	}
}

func (t *Table) remove(p *Peer) {
	delete(t.peers, p.ID)
	for _, token := range p.incoming {
		key := sha256.Sum256([]byte(token))
		if t.byToken[key] == p.ID {
			delete(t.byToken, key)
		}
	}
	tenant := t.routes[p.TenantID]
	for _, prefix := range routesOf(p) {
		ids := tenant[prefix][:0:0]
		for _, id := range tenant[prefix] {
			if id != p.ID {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			delete(tenant, prefix)
		} else {
			tenant[prefix] = ids
		}
	}
}

// ByIncomingToken is the peer an ILP-over-HTTP request's bearer token
// belongs to. Tokens are kept by their SHA-256, so a lookup compares
// digests, not the secrets themselves.
func (t *Table) ByIncomingToken(token string) (Peer, bool) {
	if token == "" {
		return Peer{}, false
	}
	key := sha256.Sum256([]byte(token))
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.peers[t.byToken[key]]
	if !ok {
		return Peer{}, false
	}
	return *p, true
}

// Asset is an asset by its id.
func (t *Table) Asset(id string) (Asset, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	a, ok := t.assets[id]
	return a, ok
}

// ByID is a peer by its id.
func (t *Table) ByID(id string) (Peer, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.peers[id]
	if !ok {
		return Peer{}, false
	}
	return *p, true
}

// Route is the peer of tenant a packet for destination goes to: the
// longest matching prefix, never the peer it came from (fromPeerID), of
// assetID when it is set, at random among equals.
func (t *Table) Route(tenantID, destination, fromPeerID, assetID string) (Peer, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	prefixes := t.routes[tenantID]
	if len(prefixes) == 0 {
		return Peer{}, false
	}
	for prefix := destination; ; {
		if p, ok := t.pick(prefixes[prefix], fromPeerID, assetID); ok {
			return p, true
		}
		i := strings.LastIndexByte(prefix, '.')
		if i < 0 {
			return Peer{}, false
		}
		prefix = prefix[:i]
	}
}

// pick chooses among the peers of one prefix those the packet may go to,
// at random, without allocating; the caller holds the read lock.
func (t *Table) pick(ids []string, fromPeerID, assetID string) (Peer, bool) {
	allowed := func(id string) bool {
		p := t.peers[id]
		return p != nil && id != fromPeerID && (assetID == "" || p.AssetID == assetID)
	}
	n := 0
	for _, id := range ids {
		if allowed(id) {
			n++
		}
	}
	if n == 0 {
		return Peer{}, false
	}
	k := 0
	if n > 1 {
		k = rand.IntN(n)
	}
	for _, id := range ids {
		if !allowed(id) {
			continue
		}
		if k == 0 {
			return *t.peers[id], true
		}
		k--
	}
	return Peer{}, false
}
