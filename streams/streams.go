// Package streams reads the declaration of JetStream streams and consumers
// (streams.yaml), compares a server with it (Check) and makes a server
// match it (Apply).
package streams

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"gopkg.in/yaml.v3"
)

// Declaration is the parsed streams.yaml.
type Declaration struct {
	Streams   []Stream   `yaml:"streams"`
	Consumers []Consumer `yaml:"consumers"`
}

type Stream struct {
	Name            string        `yaml:"name"`
	Subjects        []string      `yaml:"subjects"`
	Storage         string        `yaml:"storage"`
	Retention       string        `yaml:"retention"`
	DenyDelete      bool          `yaml:"deny_delete"`
	DenyPurge       bool          `yaml:"deny_purge"`
	AllowAtomic     bool          `yaml:"allow_atomic"`
	AllowDirect     bool          `yaml:"allow_direct"`
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
	// AllowMsgSchedules lets messages carry a JetStream message schedule;
	// the server then also allows roll-ups and purges on the stream, which
	// a schedule needs, and never lets schedules be disabled again.
	AllowMsgSchedules bool `yaml:"allow_msg_schedules"`
}

type Consumer struct {
	Stream         string        `yaml:"stream"`
	Name           string        `yaml:"name"`
	FilterSubjects []string      `yaml:"filter_subjects"`
	AckWait        time.Duration `yaml:"ack_wait"`
	MaxAckPending  int           `yaml:"max_ack_pending"`
	// MaxDeliver is the number of deliveries after which the server gives
	// up on a message, leaving it unacknowledged; -1 or unset: unlimited.
	MaxDeliver int `yaml:"max_deliver"`
	// AckPolicy is "explicit" (the default: each message acknowledged) or
	// "all" (acknowledging one message acknowledges those before it).
	AckPolicy string `yaml:"ack_policy"`
}

// Parse reads a declaration and checks that it is complete.
func Parse(data []byte) (Declaration, error) {
	var d Declaration
	if err := yaml.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("parse streams declaration: %w", err)
	}
	names := map[string]bool{}
	for _, s := range d.Streams {
		if s.Name == "" || len(s.Subjects) == 0 {
			return d, fmt.Errorf("parse streams declaration: stream %q needs a name and subjects", s.Name)
		}
		if _, err := storage(s.Storage); err != nil {
			return d, err
		}
		if _, err := retention(s.Retention); err != nil {
			return d, err
		}
		names[s.Name] = true
	}
	for _, c := range d.Consumers {
		if !names[c.Stream] || c.Name == "" {
			return d, fmt.Errorf("parse streams declaration: consumer %q on unknown stream %q", c.Name, c.Stream)
		}
		if _, err := ackPolicy(c.AckPolicy); err != nil {
			return d, err
		}
	}
	return d, nil
}

// Consumer returns the declared consumer with that name.
func (d Declaration) Consumer(name string) (Consumer, bool) {
	for _, c := range d.Consumers {
		if c.Name == name {
			return c, true
		}
	}
	return Consumer{}, false
}

func storage(s string) (jetstream.StorageType, error) {
	switch s {
	case "", "file":
		return jetstream.FileStorage, nil
	case "memory":
		return jetstream.MemoryStorage, nil
	}
	return 0, fmt.Errorf("parse streams declaration: unknown storage %q", s)
}

func retention(s string) (jetstream.RetentionPolicy, error) {
	switch s {
	case "", "limits":
		return jetstream.LimitsPolicy, nil
	case "workqueue":
		return jetstream.WorkQueuePolicy, nil
	case "interest":
		return jetstream.InterestPolicy, nil
	}
	return 0, fmt.Errorf("parse streams declaration: unknown retention %q", s)
}

func ackPolicy(s string) (jetstream.AckPolicy, error) {
	switch s {
	case "", "explicit":
		return jetstream.AckExplicitPolicy, nil
	case "all":
		return jetstream.AckAllPolicy, nil
	}
	return 0, fmt.Errorf("parse streams declaration: unknown ack policy %q", s)
}

// StreamConfig is the server configuration a declared stream asks for;
// replicas 0 leaves the number of replicas to the server (1 for a new
// stream, what it has for an existing one).
func (s Stream) StreamConfig(replicas int) jetstream.StreamConfig {
	st, _ := storage(s.Storage)
	rt, _ := retention(s.Retention)
	return jetstream.StreamConfig{
		Name:               s.Name,
		Subjects:           s.Subjects,
		Storage:            st,
		Retention:          rt,
		Replicas:           replicas,
		DenyDelete:         s.DenyDelete,
		DenyPurge:          s.DenyPurge,
		AllowAtomicPublish: s.AllowAtomic,
		AllowDirect:        s.AllowDirect,
		Duplicates:         s.DuplicateWindow,
		AllowMsgSchedules:  s.AllowMsgSchedules,
	}
}

// ConsumerConfig is the server configuration a declared consumer asks for.
func (c Consumer) ConsumerConfig() jetstream.ConsumerConfig {
	ack, _ := ackPolicy(c.AckPolicy)
	return jetstream.ConsumerConfig{
		Durable:        c.Name,
		FilterSubjects: c.FilterSubjects,
		AckPolicy:      ack,
		AckWait:        c.AckWait,
		MaxAckPending:  c.MaxAckPending,
		MaxDeliver:     c.MaxDeliver,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
}
