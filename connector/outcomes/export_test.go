package outcomes

const PendingMax = pendingMax
