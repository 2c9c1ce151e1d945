package commands

// MaxDeliveriesDefault is the limit of a Worker that sets none.
const MaxDeliveriesDefault = maxDeliveriesDefault
