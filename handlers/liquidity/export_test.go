package liquidity

import "time"

// SetWindows sets how long a request's own handler may do its ledger step
// and when the command that completes it runs.
func SetWindows(h *Handler, own, recoverAfter time.Duration) {
	h.ownWindow, h.recoverAfter = own, recoverAfter
}

// StopAfterRequest makes the handler stop right after it stored a request,
// with err, as a process killed there would.
func StopAfterRequest(h *Handler, err error) { h.afterRequest = func() error { return err } }
