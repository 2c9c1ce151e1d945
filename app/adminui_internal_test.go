package app

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/rafiki-go/rafiki/testkit"
)

// TestRedisSignOuts records sign-outs in Redis as the admin UI does: one
// is remembered until its session's expiry and then forgotten, and a
// Redis that cannot answer is an error, never a session not signed out.
func TestRedisSignOuts(t *testing.T) {
	ctx := context.Background()
	rdb := testkit.Redis(t)
	s := redisSignOuts{rdb: rdb}
	ended := func(id string) bool {
		t.Helper()
		ok, err := s.Ended(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	id := uuid.NewString()
	if ended(id) {
		t.Fatal("a session never signed out is ended")
	}
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := s.End(ctx, id, until); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), signOutKey(id)) })
	if !ended(id) {
		t.Fatal("a signed-out session is not ended")
	}
	if got, err := rdb.ExpireTime(ctx, signOutKey(id)).Result(); err != nil || got != time.Duration(until.Unix())*time.Second {
		t.Fatalf("the sign-out expires at %v (%v), want the session's expiry %v", got, err, until.Unix())
	}

	soon := uuid.NewString()
	if err := s.End(ctx, soon, time.Now().Add(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, func() bool { return !ended(soon) }, "a sign-out is remembered past its session's expiry")

	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { down.Close() })
	if ok, err := (redisSignOuts{rdb: down}).Ended(ctx, id); err == nil {
		t.Fatalf("Redis down: Ended = %v without an error", ok)
	}
	if err := (redisSignOuts{rdb: down}).End(ctx, id, until); err == nil {
		t.Fatal("Redis down: End without an error")
	}
}
