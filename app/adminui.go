package app

import (
	"fmt"

	"github.com/rafiki-go/rafiki/adminui"
)

// adminUIGraphQLURL is the admin API the UI calls: GRAPHQL_URL when set,
// else the backend of this process when it runs one (dev), else the
// backend's admin port on this host.
func (r *Running) adminUIGraphQLURL(backend bool) (string, error) {
	if r.Config.GraphQLURL != "" {
		return r.Config.GraphQLURL, nil
	}
	if backend {
		base, err := r.URL(AdminListener)
		if err != nil {
			return "", err
		}
		return base + "/graphql", nil
	}
	return fmt.Sprintf("http://localhost:%d/graphql", r.Config.AdminPort), nil
}

// serveAdminUI sets the admin UI on its listener.
func (r *Running) serveAdminUI(backend bool) error {
	url, err := r.adminUIGraphQLURL(backend)
	if err != nil {
		return err
	}
	ui, err := adminui.New(adminui.Config{GraphQLURL: url, SessionKey: r.Config.AdminUISessionKey,
		SecureCookies: r.Config.Production, Log: r.log.With("listener", AdminUIListener)})
	if err != nil {
		return fmt.Errorf("admin UI: %w", err)
	}
	r.Servers.Handle(AdminUIListener, ui)
	return nil
}
