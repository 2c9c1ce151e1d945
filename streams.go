// Package rafiki holds the files of the project that the binary embeds.
package rafiki

import _ "embed"

// StreamsYAML declares every JetStream stream and durable consumer.
//
//go:embed streams.yaml
var StreamsYAML []byte
