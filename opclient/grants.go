package opclient

import (
	"context"
	"slices"
	"sync"
	"time"
)

// grantsMax bounds the grants kept: the authorization servers asked are
// whichever wallet addresses callers name.
const grantsMax = 1000

// expiryMargin counts a token as expired a little early, so that it does
// not expire on the way to the resource server.
const expiryMargin = 5 * time.Second

// Grant is a grant the backend holds at an authorization server: one type
// of access and its actions, and its current token.
type Grant struct {
	AuthServer string
	Type       string
	// Actions are those granted, with the ones they imply (read for
	// read-all, list for list-all), as Rafiki keeps them.
	Actions   []string
	Token     string
	Manage    string
	ExpiresAt time.Time // zero: the token was given without a lifetime
}

func (g *Grant) expired(now time.Time) bool {
	return !g.ExpiresAt.IsZero() && !now.Before(g.ExpiresAt.Add(-expiryMargin))
}

// Grants keeps the grants of this process, as Rafiki's backend keeps them
// in its grants table: one is used for every request its access covers, its
// token rotated when it expires, and it is requested again when rotation
// fails or the resource server refuses the token (Forget).
type Grants struct {
	client *Client
	now    func() time.Time

	mu     sync.Mutex
	grants []*Grant
	// locks serialise the requests for one authorization server and type,
	// so that concurrent callers share one grant.
	locks map[string]*sync.Mutex
}

// NewGrants keeps grants requested through client.
func NewGrants(client *Client) *Grants {
	return &Grants{client: client, now: time.Now, locks: map[string]*sync.Mutex{}}
}

// Get is a grant at authServer of accessType covering actions: one held,
// its token rotated when expired, or a new one.
func (g *Grants) Get(ctx context.Context, authServer, accessType string, actions ...string) (*Grant, error) {
	lock := g.lock(authServer + "\x00" + accessType)
	lock.Lock()
	defer lock.Unlock()
	if held := g.find(authServer, accessType, actions); held != nil {
		if !held.expired(g.now()) {
			return held, nil
		}
		if rotated, err := g.client.RotateToken(ctx, held.Manage, held.Token); err == nil {
			next := *held
			next.Token, next.Manage, next.ExpiresAt = rotated.Value, rotated.Manage, g.expiry(rotated)
			g.replace(held, &next)
			return &next, nil
		}
		g.Forget(held)
	}
	token, err := g.client.RequestGrant(ctx, authServer, Access{Type: accessType, Actions: actions})
	if err != nil {
		return nil, err
	}
	granted := &Grant{AuthServer: authServer, Type: accessType, Actions: withImplied(actions),
		Token: token.Value, Manage: token.Manage, ExpiresAt: g.expiry(token)}
	g.mu.Lock()
	if len(g.grants) >= grantsMax {
		g.grants = slices.Delete(g.grants, 0, 1)
	}
	g.grants = append(g.grants, granted)
	g.mu.Unlock()
	return granted, nil
}

// Forget drops a grant whose token the resource server refused, so that the
// next Get requests a new one.
func (g *Grants) Forget(grant *Grant) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.grants = slices.DeleteFunc(g.grants, func(h *Grant) bool { return h == grant })
}

func (g *Grants) lock(key string) *sync.Mutex {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, ok := g.locks[key]
	if !ok {
		if len(g.locks) >= grantsMax {
			// Dropping a lock another caller holds only lets two
			// requests for one server run at once.
			clear(g.locks)
		}
		l = &sync.Mutex{}
		g.locks[key] = l
	}
	return l
}

func (g *Grants) find(authServer, accessType string, actions []string) *Grant {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, h := range g.grants {
		if h.AuthServer == authServer && h.Type == accessType && covers(h.Actions, actions) {
			return h
		}
	}
	return nil
}

func (g *Grants) replace(old, next *Grant) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := slices.Index(g.grants, old); i >= 0 {
		g.grants[i] = next
	}
}

// tokenLifetimeMax bounds a token's lifetime as told: a longer one (past
// what a Duration holds, say) is kept that long.
const tokenLifetimeMax = 365 * 24 * time.Hour

func (g *Grants) expiry(t AccessToken) time.Time {
	if t.ExpiresIn <= 0 {
		return time.Time{}
	}
	lifetime := tokenLifetimeMax
	if t.ExpiresIn < int64(tokenLifetimeMax/time.Second) {
		lifetime = time.Duration(t.ExpiresIn) * time.Second
	}
	return g.now().Add(lifetime)
}

func covers(held, wanted []string) bool {
	for _, a := range wanted {
		if !slices.Contains(held, a) {
			return false
		}
	}
	return true
}

// withImplied adds the actions the given ones imply.
func withImplied(actions []string) []string {
	out := slices.Clone(actions)
	for all, one := range map[string]string{"read-all": "read", "list-all": "list"} {
		if slices.Contains(out, all) && !slices.Contains(out, one) {
			out = append(out, one)
		}
	}
	return out
}
