package streams

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A pull request waits on the leader of its consumer, on the node its
// connection reached. When that node dies, or the consumer elects another
// leader, the pull is gone without a word, and a reader learns it only
// from the missing heartbeats of an idle pull: two in a row, after which
// the client pulls again. The client's default heartbeat is half the
// pull's 30 s expiry, so a reader would stall about 30 s after losing a
// node of a cluster, well past the few seconds JetStream takes to elect
// new leaders. These keep the stall within about two seconds of the
// election; an idle reader costs its consumer's leader one heartbeat a
// second.
const (
	pullExpiry    = 10 * time.Second
	pullHeartbeat = time.Second
)

// MessagesOptions are the options of every Messages iterator over a
// consumer, holding at most maxMessages at a time.
func MessagesOptions(maxMessages int) []jetstream.PullMessagesOpt {
	return []jetstream.PullMessagesOpt{jetstream.PullMaxMessages(maxMessages),
		jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat)}
}

// ConsumeOptions are the options of every Consume callback over a consumer.
func ConsumeOptions() []jetstream.PullConsumeOpt {
	return []jetstream.PullConsumeOpt{jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat)}
}
