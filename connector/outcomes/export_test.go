package outcomes

const (
	PendingMax  = pendingMax
	RepeatAfter = repeatAfter
)
