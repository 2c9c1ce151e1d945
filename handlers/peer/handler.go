package peer

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/eventstore"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/asset"
)

// Unique keys. Two kinds of key are unique across peers; each is claimed on
// a subject of its own, in the same atomic append as the peer event that
// takes it:
//
//   - an incoming auth token, across all tenants (the connector finds a
//     peer by its token alone): claims._.peer_incoming_token.<hex of the
//     token's SHA-256>. Hashing keeps the secret out of subject names,
//     which monitoring and tools show, and bounds the subject's length;
//   - the (asset, static ILP address) pair, in the asset's tenant:
//     claims.<tenant>.peer_address.<hex of "<asset id> <address>">.
//
// A claim message's data is the holder's peer id. The stream denies deletes,
// so a claim cannot be removed: a key is released by appending an empty
// claim message that expects the holder's claim to be the subject's last
// message, and taken again by appending the new holder's id expecting that
// empty message to be the last (a key never claimed expects the subject to
// be empty). The expectation makes every take exclusive: of two peers racing
// for a free key, one append fails with a conflict, is decided again, and
// then finds the key held (DUPLICATE).
//
// Replacing incoming tokens takes the new ones and releases the dropped
// ones; changing the static address takes the new pair and releases the
// old; deleting a peer releases all its keys. What to take and release is
// the difference between the peer's keys before and after its events, so
// the claims follow the events exactly.
const (
	tokenClaimKind   = "peer_incoming_token"
	addressClaimKind = "peer_address"
)

func tokenClaim(token string) string {
	sum := sha256.Sum256([]byte(token))
	return handlers.GlobalClaimSubject(tokenClaimKind, string(sum[:]))
}

func addressClaim(tenantID, assetID, address string) (string, error) {
	return handlers.ClaimSubject(tenantID, addressClaimKind, assetID+" "+address)
}

// keys are the claim subjects a peer holds: none once deleted.
func keys(s State) (map[string]bool, error) {
	if !s.Active() {
		return nil, nil
	}
	address, err := addressClaim(s.TenantID, s.AssetID, s.StaticILPAddress)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{address: true}
	for _, t := range s.IncomingAuthTokens {
		out[tokenClaim(t)] = true
	}
	return out, nil
}

// claim is what a claim subject holds now.
type claim struct {
	holder   string // peer id; "" when free
	sequence uint64 // of the subject's last message; 0 when never claimed
}

// Handler runs peer commands against the event store.
type Handler struct {
	store handlers.Store
}

func NewHandler(store handlers.Store) *Handler {
	if store == nil {
		panic("peer: NewHandler needs a store")
	}
	return &Handler{store: store}
}

// Subject is where a peer's events live.
func Subject(tenantID, peerID string) (string, error) {
	return handlers.Subject(tenantID, AggregateType, peerID)
}

func target(tenantID, peerID string) (handlers.Target, error) {
	return handlers.NewTarget(tenantID, AggregateType, peerID)
}

func info(m commands.Meta) handlers.CommandInfo {
	return handlers.Info(m)
}

// canonical is an id in the one form subjects use; ok is false for
// anything that is not a UUID.
func canonical(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// Created is what Create reports: the peer and what the caller needs to
// open its liquidity account (ledger.Peer, on the asset's ledger) and to
// deposit its initial liquidity, after the append.
type Created struct {
	handlers.Result
	PeerID   string
	TenantID string
	AssetID  string
	// Ledger is the asset's ledger number.
	Ledger uint32
	// InitialLiquidity is the amount to deposit; nil for none.
	InitialLiquidity *uint64
}

// Create adds a peer. Its id derives from the command id, so a retried
// command reports the peer it created the first time.
func (h *Handler) Create(ctx context.Context, c commands.CreatePeer) (Created, error) {
	c, err := checkCreate(c)
	if err != nil {
		return Created{}, err
	}
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:peer:"+c.ID)).String()
	var out Created
	res, err := handlers.Retry(ctx, func() (handlers.Result, error) {
		a, err := h.loadAsset(ctx, c.AssetID)
		if err != nil {
			return handlers.Result{}, err
		}
		if !a.Active() {
			// Decided on no asset: the input checks, then unknown asset.
			if _, err := decideCreate(State{}, a, c, Holders{}); err != nil {
				return handlers.Result{}, err
			}
			return handlers.Result{}, errUnknownAsset()
		}
		t, err := target(a.TenantID, id)
		if err != nil {
			return handlers.Result{}, err
		}
		s, version, err := handlers.Load(ctx, h.store, t.Subject, Evolve)
		if err != nil {
			return handlers.Result{}, err
		}
		var tokens []string
		if c.HTTP.Incoming != nil {
			tokens = c.HTTP.Incoming.AuthTokens
		}
		claims, holders, err := h.holders(ctx, a.TenantID, a.ID, tokens, &c.StaticILPAddress)
		if err != nil {
			return handlers.Result{}, err
		}
		evs, err := decideCreate(s, a, c, holders)
		if err != nil {
			return handlers.Result{}, err
		}
		after := fold(s, t, evs)
		out = Created{PeerID: id, TenantID: a.TenantID, AssetID: a.ID, Ledger: a.Ledger, InitialLiquidity: after.InitialLiquidity}
		if len(evs) == 0 {
			return handlers.Result{Sequence: version}, nil
		}
		return h.append(ctx, t, version, c.Meta, s, after, evs, claims)
	})
	if err != nil {
		return Created{}, err
	}
	out.Result = res
	return out, nil
}

// Update changes a peer.
func (h *Handler) Update(ctx context.Context, c commands.UpdatePeer) (handlers.Result, error) {
	c, err := checkUpdate(c)
	if err != nil {
		return handlers.Result{}, err
	}
	wants := func(State) ([]string, *string) {
		var tokens []string
		if c.HTTP != nil && c.HTTP.Incoming != nil {
			tokens = c.HTTP.Incoming.AuthTokens
		}
		return tokens, c.StaticILPAddress
	}
	return h.execute(ctx, c.Meta, c.PeerID, wants, func(s State, hs Holders) ([]events.Event, error) {
		return decideUpdate(s, c, hs)
	})
}

// Delete deletes a peer and releases its incoming tokens and address.
func (h *Handler) Delete(ctx context.Context, c commands.DeletePeer) (handlers.Result, error) {
	c, err := checkDelete(c)
	if err != nil {
		return handlers.Result{}, err
	}
	return h.execute(ctx, c.Meta, c.PeerID, nil, func(s State, _ Holders) ([]events.Event, error) {
		return decideDelete(s, c)
	})
}

// Load reads a peer's current state; found is false when it has no events.
func (h *Handler) Load(ctx context.Context, peerID string) (s State, found bool, err error) {
	id, ok := canonical(peerID)
	if !ok {
		return State{}, false, nil
	}
	tenantID, found, err := handlers.Locate(ctx, h.store, AggregateType, id)
	if err != nil || !found {
		return State{}, false, err
	}
	subject, err := Subject(tenantID, id)
	if err != nil {
		return State{}, false, err
	}
	s, _, err = handlers.Load(ctx, h.store, subject, Evolve)
	return s, err == nil, err
}

// execute runs a command on an existing peer. wants names the keys the
// command may take (tokens, and a static address in the peer's asset).
func (h *Handler) execute(ctx context.Context, m commands.Meta, peerID string,
	wants func(State) ([]string, *string), decide func(State, Holders) ([]events.Event, error)) (handlers.Result, error) {
	id, ok := canonical(peerID)
	tenantID, found := "", false
	if ok {
		var err error
		if tenantID, found, err = handlers.Locate(ctx, h.store, AggregateType, id); err != nil {
			return handlers.Result{}, err
		}
	}
	if !found {
		// Decided on no peer: the input checks, then unknown peer.
		if _, err := decide(State{}, Holders{}); err != nil {
			return handlers.Result{}, err
		}
		return handlers.Result{}, errUnknownPeer()
	}
	t, err := target(tenantID, id)
	if err != nil {
		return handlers.Result{}, err
	}
	return handlers.Retry(ctx, func() (handlers.Result, error) {
		s, version, done, err := handlers.LoadFor(ctx, h.store, t.Subject, m.ID, Evolve)
		if err != nil {
			return handlers.Result{}, err
		}
		if done != nil {
			return *done, nil
		}
		var claims map[string]claim
		var holders Holders
		if wants != nil && s.Active() {
			tokens, address := wants(s)
			if claims, holders, err = h.holders(ctx, s.TenantID, s.AssetID, tokens, address); err != nil {
				return handlers.Result{}, err
			}
		}
		evs, err := decide(s, holders)
		if err != nil || len(evs) == 0 {
			return handlers.Result{Sequence: version}, err
		}
		return h.append(ctx, t, version, m, s, fold(s, t, evs), evs, claims)
	})
}

// holders reads who holds the requested keys.
func (h *Handler) holders(ctx context.Context, tenantID, assetID string, tokens []string, address *string) (map[string]claim, Holders, error) {
	claims := map[string]claim{}
	out := Holders{Tokens: make(map[string]string, len(tokens))}
	for _, tok := range tokens {
		cl, err := h.claimAt(ctx, claims, tokenClaim(tok))
		if err != nil {
			return nil, Holders{}, err
		}
		out.Tokens[tok] = cl.holder
	}
	if address != nil {
		subject, err := addressClaim(tenantID, assetID, *address)
		if err != nil {
			return nil, Holders{}, err
		}
		cl, err := h.claimAt(ctx, claims, subject)
		if err != nil {
			return nil, Holders{}, err
		}
		out.Address = cl.holder
	}
	return claims, out, nil
}

// claimAt reads a claim subject once per attempt, remembering it in seen.
func (h *Handler) claimAt(ctx context.Context, seen map[string]claim, subject string) (claim, error) {
	if cl, ok := seen[subject]; ok {
		return cl, nil
	}
	data, seq, found, err := h.store.Last(ctx, subject)
	if err != nil {
		return claim{}, err
	}
	cl := claim{}
	if found {
		cl = claim{holder: string(data), sequence: seq}
	}
	seen[subject] = cl
	return cl, nil
}

// fold applies decided events to the state they were decided on.
func fold(s State, t handlers.Target, evs []events.Event) State {
	env := events.Envelope{AggregateType: t.AggregateType, AggregateID: t.AggregateID, TenantID: t.TenantID, Time: time.Now()}
	for _, ev := range evs {
		s = Evolve(s, env, ev)
	}
	return s
}

// append stores the events with the claims they take and release, as one
// atomic batch; the result is the sequence of the last event, which the
// peers projection reaches (it does not read claims).
func (h *Handler) append(ctx context.Context, t handlers.Target, version uint64, m commands.Meta,
	before, after State, evs []events.Event, claims map[string]claim) (handlers.Result, error) {
	msgs, err := handlers.Messages(t.Subject, version, handlers.Meta(t, info(m)), m.ID, 0, evs...)
	if err != nil {
		return handlers.Result{}, err
	}
	if claims == nil {
		claims = map[string]claim{}
	}
	was, err := keys(before)
	if err != nil {
		return handlers.Result{}, err
	}
	now, err := keys(after)
	if err != nil {
		return handlers.Result{}, err
	}
	for _, subject := range slices.Sorted(maps.Keys(now)) {
		if was[subject] {
			continue
		}
		cl, err := h.claimAt(ctx, claims, subject)
		if err != nil {
			return handlers.Result{}, err
		}
		switch cl.holder {
		case after.ID:
			continue // already ours
		case "":
			msg := handlers.Claim(subject, after.ID, m.ID)
			msg.ExpectedSequence = cl.sequence // 0, or the release being re-taken
			msgs = append(msgs, msg)
		default:
			// Taken since the decision read it: decide again.
			return handlers.Result{}, &eventstore.ConflictError{Subject: subject, Cause: fmt.Errorf("held by %s", cl.holder)}
		}
	}
	for _, subject := range slices.Sorted(maps.Keys(was)) {
		if now[subject] {
			continue
		}
		cl, err := h.claimAt(ctx, claims, subject)
		if err != nil {
			return handlers.Result{}, err
		}
		if cl.holder != before.ID {
			continue // not ours to release
		}
		msgs = append(msgs, eventstore.Message{
			Subject: subject, MsgID: "release:" + m.ID + ":" + subject, ExpectedSequence: cl.sequence,
		})
	}
	seqs, err := h.store.Append(ctx, msgs)
	if err != nil {
		return handlers.Result{}, err
	}
	return handlers.Result{Sequence: seqs[len(evs)-1]}, nil
}

// loadAsset reads the asset a peer is in; an unknown one is the zero state.
func (h *Handler) loadAsset(ctx context.Context, assetID string) (asset.State, error) {
	id, ok := canonical(assetID)
	if !ok {
		return asset.State{}, nil
	}
	tenantID, found, err := handlers.Locate(ctx, h.store, asset.AggregateType, id)
	if err != nil || !found {
		return asset.State{}, err
	}
	subject, err := asset.Subject(tenantID, id)
	if err != nil {
		return asset.State{}, err
	}
	s, _, err := handlers.Load(ctx, h.store, subject, asset.Evolve)
	return s, err
}
