// Package connector will hold the ILP connector: packets (OER), ILDCP,
// ILP-over-HTTP, the middleware pipeline, routing, rates, and the STREAM
// client and server. Its listener (CONNECTOR_PORT) serves only /healthz
// until then.
package connector
