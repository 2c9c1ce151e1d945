// Package connector is the ILP connector: ILP-over-HTTP in
// (CONNECTOR_PORT), Rafiki's pipeline over each Prepare, and packets
// forwarded to peers over ILP-over-HTTP. Its parts: packets (connector/ilp),
// STREAM (connector/stream), peers, their routes and assets
// (connector/peers), exchange rates (package rates) and the ledger's
// two-phase transfers (package ledger).
package connector
