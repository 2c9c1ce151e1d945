// Package authsvc will hold the GNAP authorization server, its admin API and
// token introspection. Its listeners serve only /healthz until then.
package authsvc
