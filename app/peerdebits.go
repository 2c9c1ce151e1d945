package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/connector"
	"github.com/rafiki-go/rafiki/handlers/liquidity"
)

// A peer whose packets take its liquidity is checked against its
// liquidityThreshold at most once per debitCheckEvery, after its last
// packet within that time, and off the packets' path: a check reads the
// peer and the ledger, which a packet must not wait for. At most
// debitChecksMax checks run at once.
const (
	debitCheckEvery   = time.Second
	debitChecksMax    = 4
	debitCheckTimeout = 5 * time.Second
	debitPeersKeptMax = 10_000
)

// peerDebits warns of peers brought to their liquidityThreshold by their
// packets (peer.liquidity_low), as Rafiki's ledger does after every debit
// of a peer's account; here one event a second at most while the peer is
// low, whichever process checks.
type peerDebits struct {
	liquidity *liquidity.Handler
	log       *slog.Logger
	ctx       context.Context
	slots     chan struct{}
	mu        sync.Mutex
	peers     map[string]peerDebit
}

// peerDebit is when a peer was last checked, and whether a check is due
// that will see its latest debits.
type peerDebit struct {
	checked time.Time
	due     bool
}

func newPeerDebits(ctx context.Context, l *liquidity.Handler, log *slog.Logger) *peerDebits {
	return &peerDebits{liquidity: l, log: log, ctx: ctx, slots: make(chan struct{}, debitChecksMax), peers: map[string]peerDebit{}}
}

func (p *peerDebits) Debited(from connector.Origin) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.peers[from.ID]
	if d.due {
		return
	}
	if len(p.peers) >= debitPeersKeptMax {
		for id, other := range p.peers {
			if !other.due && now.Sub(other.checked) >= debitCheckEvery {
				delete(p.peers, id)
			}
		}
	}
	p.peers[from.ID] = peerDebit{checked: d.checked, due: true}
	time.AfterFunc(max(0, debitCheckEvery-now.Sub(d.checked)), func() { p.run(from.ID) })
}

// run checks a peer whose check came due; debits from now on are seen by
// the next.
func (p *peerDebits) run(peerID string) {
	p.mu.Lock()
	at := time.Now()
	p.peers[peerID] = peerDebit{checked: at}
	p.mu.Unlock()
	select {
	case p.slots <- struct{}{}:
	case <-p.ctx.Done():
		return
	}
	defer func() { <-p.slots }()
	ctx, cancel := context.WithTimeout(p.ctx, debitCheckTimeout)
	defer cancel()
	if err := p.check(ctx, peerID, at); err != nil {
		p.log.Warn("peer liquidity not checked after its packets", "peer", peerID, "err", err)
	}
}

func (p *peerDebits) check(ctx context.Context, peerID string, at time.Time) error {
	operator := commands.Actor{Operator: true}
	owner, err := p.liquidity.PeerOwner(ctx, operator, peerID)
	if err != nil {
		return err
	}
	id := uuid.NewString()
	return p.liquidity.CheckLowAfterDebits(ctx, commands.Meta{ID: id, CorrelationID: id, Actor: operator}, owner, at)
}
