package walletaddress

import "time"

// SetClock makes r read the time from now.
func SetClock(r *WithAsset, now func() time.Time) { r.now = now }
