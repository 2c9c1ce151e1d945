// Package connector will hold the ILP connector: ILP-over-HTTP, the
// middleware pipeline, routing, rates, and the STREAM client and server.
// Its packets and IL-DCP are in connector/ilp. Its listener
// (CONNECTOR_PORT) serves only /healthz until then.
package connector
