package liquidity

import "time"

// SetWindows sets how long a request's own handler may do its ledger step
// and when the command that completes it runs.
func SetWindows(h *Handler, own, recoverAfter time.Duration) {
	h.ownWindow, h.recoverAfter = own, recoverAfter
}
