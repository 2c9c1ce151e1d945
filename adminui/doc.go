// Package adminui will hold the operator's web admin interface. Its listener
// (ADMIN_UI_PORT) serves only /healthz until then.
package adminui
