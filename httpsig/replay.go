package httpsig

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ReplayGuard remembers signatures: Use records key with the time now for
// ttl unless it is recorded already, and answers when it was first
// recorded and whether this call recorded it. An error means the guard
// could not tell, and the request is refused.
type ReplayGuard interface {
	Use(ctx context.Context, key string, now time.Time, ttl time.Duration) (first time.Time, fresh bool, err error)
}

// RedisReplayGuard keeps used signatures in Redis (SET NX GET with a TTL,
// the first use's Unix milliseconds as the value), so that every instance
// of a service judges a signature by its first use at any of them.
type RedisReplayGuard struct {
	Redis  redis.UniversalClient
	Prefix string
}

func (g RedisReplayGuard) Use(ctx context.Context, key string, now time.Time, ttl time.Duration) (time.Time, bool, error) {
	old, err := g.Redis.SetArgs(ctx, g.Prefix+key, now.UnixMilli(), redis.SetArgs{Mode: "NX", Get: true, TTL: ttl}).Result()
	if errors.Is(err, redis.Nil) {
		return now, true, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	// A value that is no time is taken as a use long past: refused.
	ms, _ := strconv.ParseInt(old, 10, 64)
	return time.UnixMilli(ms), false, nil
}
