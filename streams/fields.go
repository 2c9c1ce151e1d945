package streams

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// field is one setting the declaration names. Check and Apply compare and
// copy exactly these; whatever else a server holds (limits, placement,
// settings an operator added) is not the declaration's business.
type field[C any] struct {
	name string // as streams.yaml names it
	// value is the setting as text, in streams.yaml's words, so that two
	// values compare equal when they mean the same.
	value func(C) string
	// set copies the setting from a declared configuration.
	set func(to *C, from C)
	// serverChosen: a declaration that leaves the setting zero lets the
	// server choose it (its default, or what it has), so any value found
	// matches and an update keeps it.
	serverChosen bool
}

var streamFields = []field[jetstream.StreamConfig]{
	{name: "subjects", value: func(c jetstream.StreamConfig) string { return list(c.Subjects) },
		set: func(to *jetstream.StreamConfig, from jetstream.StreamConfig) { to.Subjects = from.Subjects }},
	{name: "storage", value: func(c jetstream.StreamConfig) string { return storageName(c.Storage) },
		set: func(to *jetstream.StreamConfig, from jetstream.StreamConfig) { to.Storage = from.Storage }},
	{name: "retention", value: func(c jetstream.StreamConfig) string { return retentionName(c.Retention) },
		set: func(to *jetstream.StreamConfig, from jetstream.StreamConfig) { to.Retention = from.Retention }},
	// Replicas are not in streams.yaml: they come from NATS_STREAM_REPLICAS,
	// and unset they are the server's.
	{name: "replicas", value: func(c jetstream.StreamConfig) string { return strconv.Itoa(c.Replicas) },
		set:          func(to *jetstream.StreamConfig, from jetstream.StreamConfig) { to.Replicas = from.Replicas },
		serverChosen: true},
	{name: "deny_delete", value: func(c jetstream.StreamConfig) string { return strconv.FormatBool(c.DenyDelete) },
		set: func(to *jetstream.StreamConfig, from jetstream.StreamConfig) { to.DenyDelete = from.DenyDelete }},
	{name: "deny_purge", value: func(c jetstream.StreamConfig) string { return strconv.FormatBool(c.DenyPurge) },
		set: func(to *jetstream.StreamConfig, from jetstream.StreamConfig) { to.DenyPurge = from.DenyPurge }},
	{name: "allow_atomic", value: func(c jetstream.StreamConfig) string { return strconv.FormatBool(c.AllowAtomicPublish) },
		set: func(to *jetstream.StreamConfig, from jetstream.StreamConfig) {
			to.AllowAtomicPublish = from.AllowAtomicPublish
		}},
	{name: "allow_direct", value: func(c jetstream.StreamConfig) string { return strconv.FormatBool(c.AllowDirect) },
		set: func(to *jetstream.StreamConfig, from jetstream.StreamConfig) { to.AllowDirect = from.AllowDirect }},
	{name: "duplicate_window", value: func(c jetstream.StreamConfig) string { return c.Duplicates.String() },
		set:          func(to *jetstream.StreamConfig, from jetstream.StreamConfig) { to.Duplicates = from.Duplicates },
		serverChosen: true},
	{name: "allow_msg_schedules", value: func(c jetstream.StreamConfig) string { return strconv.FormatBool(c.AllowMsgSchedules) },
		set: func(to *jetstream.StreamConfig, from jetstream.StreamConfig) {
			to.AllowMsgSchedules = from.AllowMsgSchedules
		}},
}

var consumerFields = []field[jetstream.ConsumerConfig]{
	{name: "filter_subjects", value: func(c jetstream.ConsumerConfig) string { return list(filters(c)) },
		set: func(to *jetstream.ConsumerConfig, from jetstream.ConsumerConfig) {
			to.FilterSubjects, to.FilterSubject = from.FilterSubjects, from.FilterSubject
		}},
	{name: "ack_policy", value: func(c jetstream.ConsumerConfig) string { return ackPolicyName(c.AckPolicy) },
		set: func(to *jetstream.ConsumerConfig, from jetstream.ConsumerConfig) { to.AckPolicy = from.AckPolicy }},
	{name: "ack_wait", value: func(c jetstream.ConsumerConfig) string { return c.AckWait.String() },
		set:          func(to *jetstream.ConsumerConfig, from jetstream.ConsumerConfig) { to.AckWait = from.AckWait },
		serverChosen: true},
	{name: "max_ack_pending", value: func(c jetstream.ConsumerConfig) string { return strconv.Itoa(c.MaxAckPending) },
		set: func(to *jetstream.ConsumerConfig, from jetstream.ConsumerConfig) {
			to.MaxAckPending = from.MaxAckPending
		},
		serverChosen: true},
	// The server reports an unlimited max_deliver as -1 whether it was
	// asked for 0 or -1.
	{name: "max_deliver", value: func(c jetstream.ConsumerConfig) string {
		if c.MaxDeliver <= 0 {
			return "-1"
		}
		return strconv.Itoa(c.MaxDeliver)
	}, set: func(to *jetstream.ConsumerConfig, from jetstream.ConsumerConfig) { to.MaxDeliver = from.MaxDeliver }},
}

// differences lists the fields in which found differs from declared.
func differences[C any](fields []field[C], stream, consumer string, declared, found C) []Mismatch {
	var zero C
	var out []Mismatch
	for _, f := range fields {
		want := f.value(declared)
		if f.serverChosen && want == f.value(zero) {
			continue
		}
		if got := f.value(found); got != want {
			out = append(out, Mismatch{Stream: stream, Consumer: consumer, Field: f.name, Declared: want, Found: got})
		}
	}
	return out
}

// updated is found with every field the declaration decides copied from
// declared; the rest stays as the server has it.
func updated[C any](fields []field[C], declared, found C) C {
	var zero C
	for _, f := range fields {
		if f.serverChosen && f.value(declared) == f.value(zero) {
			continue
		}
		f.set(&found, declared)
	}
	return found
}

// filters are a consumer's filter subjects, whether the server reports
// one of them as FilterSubject or as FilterSubjects.
func filters(c jetstream.ConsumerConfig) []string {
	if len(c.FilterSubjects) == 0 && c.FilterSubject != "" {
		return []string{c.FilterSubject}
	}
	return c.FilterSubjects
}

// list writes subjects in order, since their order means nothing.
func list(subjects []string) string {
	sorted := slices.Sorted(slices.Values(subjects))
	return "[" + strings.Join(sorted, ", ") + "]"
}

func storageName(t jetstream.StorageType) string {
	for _, name := range []string{"file", "memory"} {
		if v, _ := storage(name); v == t {
			return name
		}
	}
	return fmt.Sprintf("storage %d", t)
}

func retentionName(r jetstream.RetentionPolicy) string {
	for _, name := range []string{"limits", "workqueue", "interest"} {
		if v, _ := retention(name); v == r {
			return name
		}
	}
	return fmt.Sprintf("retention %d", r)
}

func ackPolicyName(p jetstream.AckPolicy) string {
	for _, name := range []string{"explicit", "all"} {
		if v, _ := ackPolicy(name); v == p {
			return name
		}
	}
	if p == jetstream.AckNonePolicy {
		return "none"
	}
	return fmt.Sprintf("ack policy %d", p)
}
