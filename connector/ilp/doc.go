// Package ilp encodes and decodes Interledger Protocol v4 packets (RFC 27):
// Prepare, Fulfill and Reject in their canonical OER form, ILP addresses
// (RFC 15), the ILP error codes and the F08 error data, and the Dynamic
// Configuration Protocol (IL-DCP, RFC 31) a connector answers for its
// peers.
//
// Decoding is strict where the RFCs define one encoding (length prefixes,
// timestamps, address syntax, field sizes) and refuses bytes after a
// packet's envelope. Bytes after the last field inside the envelope are
// ignored, as RFC 30 requires for extensibility.
package ilp
