package httpsig

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// ReplayGuard remembers signatures: FirstUse records key for ttl and
// reports whether it was new. An error means the guard could not tell, and
// the request is refused.
type ReplayGuard interface {
	FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// RedisReplayGuard keeps used signatures in Redis (SET NX with a TTL), so
// that every instance of a service refuses a signature any of them took.
type RedisReplayGuard struct {
	Redis  redis.UniversalClient
	Prefix string
}

func (g RedisReplayGuard) FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return g.Redis.SetNX(ctx, g.Prefix+key, 1, ttl).Result()
}
