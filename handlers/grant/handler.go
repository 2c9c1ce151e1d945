package grant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers"
)

// tokenBytes is the randomness of a token value: 160 bits, past guessing
// and past reversing its hash by trying values.
const tokenBytes = 20

// Tenants tells a grant request about its tenant.
type Tenants func(ctx context.Context, tenantID string) (Tenant, error)

// Enqueue puts work that can wait on the command queue, to run at at, not
// before; id makes a second enqueue of the same work a duplicate.
type Enqueue func(ctx context.Context, subject, id string, at time.Time, command any) error

// Handler runs grant commands against the event store.
type Handler struct {
	store   handlers.Store
	policy  Policy
	tenants Tenants
	enqueue Enqueue
	random  io.Reader
}

// NewHandler builds a handler; tenants answers from wherever the auth
// service keeps its tenants, enqueue schedules the expiry of each
// interaction started.
func NewHandler(store handlers.Store, policy Policy, tenants Tenants, enqueue Enqueue) *Handler {
	if store == nil || tenants == nil || enqueue == nil {
		panic("grant: NewHandler needs a store, tenants and a command queue")
	}
	return &Handler{store: store, policy: policy, tenants: tenants, enqueue: enqueue, random: rand.Reader}
}

// AccessToken is an access token as handed to the client, the only time
// its value leaves the server.
type AccessToken struct {
	ID        string
	Value     string
	ExpiresIn time.Duration
}

// Requested answers a grant request. Repeated is set when the command ran
// before: its ids and state are answered again, its secrets are not (the
// server kept only their hashes).
type Requested struct {
	handlers.Result
	Repeated      bool
	GrantID       string
	State         string
	ContinueID    string
	ContinueToken string
	Wait          time.Duration
	// AccessToken is set for a non-interactive grant.
	AccessToken *AccessToken
	// InteractionID and InteractNonce make the redirect URL of an
	// interactive grant.
	InteractionID string
	InteractNonce string
}

// Continued answers a continuation: an access token when the grant was
// approved, nothing more when it is still pending.
type Continued struct {
	handlers.Result
	Repeated    bool
	State       string
	AccessToken *AccessToken
	Wait        time.Duration
}

// derived names an object a command makes, so that its retry names the
// same one.
func derived(kind, commandID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("rafiki:"+kind+":"+commandID)).String()
}

func (h *Handler) fresh(commandID string) (Fresh, error) {
	f := Fresh{
		ContinueID: derived("grant_continue", commandID), InteractionID: derived("grant_interaction", commandID),
		TokenID: derived("access_token", commandID),
	}
	for _, v := range []*string{&f.ContinueToken, &f.InteractNonce, &f.InteractRef, &f.TokenValue} {
		b := make([]byte, tokenBytes)
		if _, err := io.ReadFull(h.random, b); err != nil {
			return Fresh{}, fmt.Errorf("random token: %w", err)
		}
		*v = strings.ToUpper(hex.EncodeToString(b))
	}
	return f, nil
}

func info(m commands.Meta) handlers.CommandInfo {
	return handlers.Info(m)
}

// run loads the grant, decides and appends its events at the version it
// loaded, again on a lost race. repeated is set when the command ran before:
// its first result is answered and nothing is decided.
func (h *Handler) run(ctx context.Context, m commands.Meta, t handlers.Target, decide func(State) ([]events.Event, error)) (res handlers.Result, repeated bool, err error) {
	res, err = handlers.Retry(ctx, func() (handlers.Result, error) {
		state, version, done, err := handlers.LoadFor(ctx, h.store, t.Subject, m.ID, Evolve)
		if err != nil {
			return handlers.Result{}, err
		}
		if repeated = done != nil; repeated {
			return *done, nil
		}
		evs, err := decide(state)
		if err != nil || len(evs) == 0 {
			return handlers.Result{Sequence: version}, err
		}
		if err := checkTransitions(state, evs); err != nil {
			return handlers.Result{}, err
		}
		return handlers.AppendEvents(ctx, h.store, t.Subject, version, handlers.Meta(t, info(m)), m.ID, evs...)
	})
	return res, repeated, err
}

// locate finds a grant's subject from its id.
func (h *Handler) locate(ctx context.Context, grantID string) (handlers.Target, error) {
	tenantID, found, err := handlers.Locate(ctx, h.store, AggregateType, grantID)
	if err != nil {
		return handlers.Target{}, err
	}
	if !found {
		return handlers.Target{}, gnapErr(InvalidRequest, apperr.NotFound, "grant not found")
	}
	return handlers.NewTarget(tenantID, AggregateType, grantID)
}

func (h *Handler) load(ctx context.Context, t handlers.Target) (State, error) {
	s, _, err := handlers.Load(ctx, h.store, t.Subject, Evolve)
	return s, err
}

// hasEvent tells whether a decision holds an event of type T.
func hasEvent[T events.Event](evs []events.Event) bool {
	for _, ev := range evs {
		if _, ok := ev.(T); ok {
			return true
		}
	}
	return false
}

// Request creates a grant.
func (h *Handler) Request(ctx context.Context, c commands.RequestGrant) (Requested, error) {
	c, err := checkRequest(c)
	if err != nil {
		return Requested{}, err
	}
	tenant, err := h.tenants(ctx, c.TenantID)
	if err != nil {
		return Requested{}, err
	}
	f, err := h.fresh(c.ID)
	if err != nil {
		return Requested{}, err
	}
	out := Requested{GrantID: derived("grant", c.ID), ContinueID: f.ContinueID, Wait: h.policy.Wait}
	t, err := handlers.NewTarget(c.TenantID, AggregateType, out.GrantID)
	if err != nil {
		return Requested{}, err
	}
	var decided []events.Event
	out.Result, out.Repeated, err = h.run(ctx, c.Meta, t, func(s State) ([]events.Event, error) {
		evs, err := decideRequest(s, c, h.policy, tenant, f)
		decided = evs
		if err == nil && evs[0].(*events.GrantRequested).Interaction != nil {
			err = h.scheduleExpiry(ctx, out.GrantID)
		}
		return evs, err
	})
	if err != nil {
		return Requested{}, err
	}
	if out.Repeated {
		s, err := h.load(ctx, t)
		if err != nil {
			return Requested{}, err
		}
		out.State = s.State
		if s.Interaction != nil {
			out.InteractionID, out.InteractNonce = s.Interaction.ID, s.Interaction.Nonce
		}
		return out, nil
	}
	out.ContinueToken = f.ContinueToken
	requested := decided[0].(*events.GrantRequested)
	out.State = requested.State
	if requested.Interaction != nil {
		out.InteractionID, out.InteractNonce = f.InteractionID, f.InteractNonce
	}
	if requested.AccessToken != nil {
		out.AccessToken = &AccessToken{ID: f.TokenID, Value: f.TokenValue, ExpiresIn: h.policy.AccessTokenExpiry}
	}
	return out, nil
}

// Continue answers a continuation request (poll or interact_ref).
func (h *Handler) Continue(ctx context.Context, c commands.ContinueGrant) (Continued, error) {
	c, err := checkContinue(c)
	if err != nil {
		return Continued{}, err
	}
	t, err := h.locate(ctx, c.GrantID)
	if err != nil {
		return Continued{}, err
	}
	f, err := h.fresh(c.ID)
	if err != nil {
		return Continued{}, err
	}
	now := time.Now()
	var decided []events.Event
	out := Continued{Wait: h.policy.Wait}
	out.Result, out.Repeated, err = h.run(ctx, c.Meta, t, func(s State) ([]events.Event, error) {
		evs, err := decideContinue(s, c, h.policy, now, f)
		decided = evs
		return evs, err
	})
	if err != nil {
		return Continued{}, err
	}
	out.State = events.GrantStatePending
	if hasEvent[*events.AccessTokenIssued](decided) && !out.Repeated {
		out.State = events.GrantStateFinalized
		out.AccessToken = &AccessToken{ID: f.TokenID, Value: f.TokenValue, ExpiresIn: h.policy.AccessTokenExpiry}
	} else if out.Repeated {
		s, err := h.load(ctx, t)
		if err != nil {
			return Continued{}, err
		}
		out.State = s.State
	}
	return out, nil
}

// Revoke revokes a grant and its access tokens.
func (h *Handler) Revoke(ctx context.Context, c commands.RevokeGrant) (handlers.Result, error) {
	c, err := checkRevoke(c)
	if err != nil {
		return handlers.Result{}, err
	}
	t, err := h.locate(ctx, c.GrantID)
	if err != nil {
		return handlers.Result{}, err
	}
	res, _, err := h.run(ctx, c.Meta, t, func(s State) ([]events.Event, error) { return decideRevoke(s, c) })
	return res, err
}

// Accept and Reject record the identity provider's choice.
func (h *Handler) Accept(ctx context.Context, c commands.InteractionChoice) (handlers.Result, error) {
	return h.choose(ctx, c, true)
}

func (h *Handler) Reject(ctx context.Context, c commands.InteractionChoice) (handlers.Result, error) {
	return h.choose(ctx, c, false)
}

func (h *Handler) choose(ctx context.Context, c commands.InteractionChoice, accept bool) (handlers.Result, error) {
	var err error
	if c.GrantID, c.InteractionID, err = checkInteraction(c.GrantID, c.InteractionID, c.Nonce); err != nil {
		return handlers.Result{}, err
	}
	t, err := h.locate(ctx, c.GrantID)
	if err != nil {
		return handlers.Result{}, err
	}
	now := time.Now()
	res, _, err := h.run(ctx, c.Meta, t, func(s State) ([]events.Event, error) { return decideChoice(s, c, accept, now) })
	return res, err
}

// Finish ends the interaction the resource owner's browser returns from.
func (h *Handler) Finish(ctx context.Context, c commands.FinishInteraction) (Finished, handlers.Result, error) {
	var err error
	if c.GrantID, c.InteractionID, err = checkInteraction(c.GrantID, c.InteractionID, c.Nonce); err != nil {
		return Finished{}, handlers.Result{}, err
	}
	t, err := h.locate(ctx, c.GrantID)
	if err != nil {
		return Finished{}, handlers.Result{}, err
	}
	now := time.Now()
	res, _, err := h.run(ctx, c.Meta, t, func(s State) ([]events.Event, error) { return decideFinish(s, c, now) })
	if err != nil {
		return Finished{}, handlers.Result{}, err
	}
	s, err := h.load(ctx, t)
	if err != nil {
		return Finished{}, handlers.Result{}, err
	}
	return finished(s, h.policy), res, nil
}

// Expire records the expiry of a grant's pending interaction.
func (h *Handler) Expire(ctx context.Context, c commands.ExpireInteraction) (handlers.Result, error) {
	id, err := grantID(c.GrantID)
	if err != nil {
		return handlers.Result{}, err
	}
	t, err := h.locate(ctx, id)
	if err != nil {
		return handlers.Result{}, err
	}
	now := time.Now()
	res, _, err := h.run(ctx, c.Meta, t, func(s State) ([]events.Event, error) { return decideExpire(s, now) })
	return res, err
}

// Rotate replaces an access token; the new one is answered unless the
// command ran before.
func (h *Handler) Rotate(ctx context.Context, c commands.RotateToken) (*AccessToken, handlers.Result, error) {
	var err error
	if c.GrantID, c.TokenID, err = checkToken(c.GrantID, c.TokenID, c.TokenValue); err != nil {
		return nil, handlers.Result{}, err
	}
	t, err := h.locate(ctx, c.GrantID)
	if err != nil {
		return nil, handlers.Result{}, err
	}
	f, err := h.fresh(c.ID)
	if err != nil {
		return nil, handlers.Result{}, err
	}
	res, repeated, err := h.run(ctx, c.Meta, t, func(s State) ([]events.Event, error) { return decideRotate(s, c, h.policy, f) })
	if err != nil || repeated {
		return nil, res, err
	}
	return &AccessToken{ID: f.TokenID, Value: f.TokenValue, ExpiresIn: h.policy.AccessTokenExpiry}, res, nil
}

// RevokeToken revokes one access token.
func (h *Handler) RevokeToken(ctx context.Context, c commands.RevokeToken) (handlers.Result, error) {
	var err error
	if c.GrantID, c.TokenID, err = checkToken(c.GrantID, c.TokenID, c.TokenValue); err != nil {
		return handlers.Result{}, err
	}
	t, err := h.locate(ctx, c.GrantID)
	if err != nil {
		return handlers.Result{}, err
	}
	res, _, err := h.run(ctx, c.Meta, t, func(s State) ([]events.Event, error) { return decideRevokeToken(s, c) })
	return res, err
}
