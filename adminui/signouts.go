package adminui

import (
	"context"
	"sync"
	"time"
)

// SignOuts remembers the sessions signed out before they expire. A session
// cookie is sealed and needs no server state to open, so without this a
// copy of the cookie (a shared browser's profile, a proxy's log, a backup)
// would stay signed in after its owner signed out.
type SignOuts interface {
	// End records that the session id was signed out, at least until
	// the session expires.
	End(ctx context.Context, id string, until time.Time) error
	// Ended tells whether the session id was signed out.
	Ended(ctx context.Context, id string) (bool, error)
}

// signOutsMax bounds the sign-outs memorySignOuts keeps.
const signOutsMax = 100_000

// memorySignOuts keeps the sign-outs in the process, for a UI given no
// SignOuts: several UI processes then each keep their own, and a session
// signed out at one stays signed in at the others.
type memorySignOuts struct {
	mu    sync.Mutex
	until map[string]time.Time
	now   func() time.Time
}

func newMemorySignOuts() *memorySignOuts {
	return &memorySignOuts{until: map[string]time.Time{}, now: time.Now}
}

// End forgets, when signOutsMax are kept, those expired, or else the one
// nearest its expiry, which a thief would have least time to use.
func (m *memorySignOuts) End(_ context.Context, id string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, known := m.until[id]; !known && len(m.until) >= signOutsMax {
		now := m.now()
		nearest, nearestUntil := "", time.Time{}
		for other, u := range m.until {
			if !now.Before(u) {
				delete(m.until, other)
			} else if nearest == "" || u.Before(nearestUntil) {
				nearest, nearestUntil = other, u
			}
		}
		if len(m.until) >= signOutsMax {
			delete(m.until, nearest)
		}
	}
	m.until[id] = until
	return nil
}

func (m *memorySignOuts) Ended(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.until[id]
	return ok && m.now().Before(until), nil
}
