package adminauth

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// nonceReuseWindow is how long after it was signed a signature may be used
// again under another nonce. Concurrent clients that sign identical bodies
// in the same millisecond (Rafiki's k6 workload: every virtual user sends
// the same createReceiver) make the same signature, told apart only by
// their n= nonces, and send it at once; a replay made by changing the
// nonce, which the signature does not cover, must come within this window,
// where Rafiki's guard takes one for the signature's whole TTL.
const nonceReuseWindow = 5 * time.Second

// firstUseScript records a use of a signature, atomically. KEYS[1] is the
// signature's key; KEYS[2], when the header has a nonce, that nonce's key.
// ARGV[1] is how long keys live (ms); ARGV[2] is 1 while the signature may
// be used again under another nonce. A signature sent without a nonce is
// used once; one sent with a nonce once per nonce, and under a second nonce
// only while ARGV[2] says so and never when it was first used without one,
// so that neither adding a nonce nor removing it makes a use fresh. It
// answers 1 for a first use, 0 for a replay.
var firstUseScript = redis.NewScript(`
local kind = 'bare'
if #KEYS == 2 then kind = 'nonce' end
local first = redis.call('SET', KEYS[1], kind, 'NX', 'PX', ARGV[1])
if #KEYS == 1 then
  if first then return 1 end
  return 0
end
if not first and (ARGV[2] ~= '1' or redis.call('GET', KEYS[1]) ~= 'nonce') then
  return 0
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
`)

// firstUse records that sig was used and tells whether it is its first use
// (see firstUseScript). Only verified signatures are recorded, so
// unauthenticated traffic cannot fill Redis; a timestamp up to TTL in the
// future stays acceptable for up to 2×TTL, and the keys outlive that.
func (a *authenticator) firstUse(ctx context.Context, tenantID string, sig signature, now time.Time) (bool, error) {
	key := sig.replayKey(tenantID)
	keys := []string{key}
	if sig.nonce != "" {
		keys = append(keys, key+":n:"+sig.nonce)
	}
	again := "0"
	if now.Sub(time.UnixMilli(sig.timestamp)) <= nonceReuseWindow {
		again = "1"
	}
	n, err := firstUseScript.Run(ctx, a.rdb, keys, (2 * a.cfg.TTL).Milliseconds(), again).Int()
	return n == 1, err
}
