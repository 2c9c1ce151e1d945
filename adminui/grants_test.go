package adminui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/handlers/grant"
	"github.com/rafiki-go/rafiki/testkit"
)

// Grants, from the auth service's admin API: listed, filtered by state,
// shown with their access, revoked once the box is ticked, and their
// history, as for every object.
func TestGrantPages(t *testing.T) {
	s := startSystem(t)
	ctx := context.Background()
	d := s.running.Deps
	grants := grant.NewHandler(d.Store, grant.DefaultPolicy("http://auth.test"), func(context.Context, string) (grant.Tenant, error) {
		return grant.Tenant{Exists: true}, nil
	}, d.Enqueue)
	id := uuid.NewString()
	req, err := grants.Request(ctx, commands.RequestGrant{Meta: commands.Meta{ID: id, CorrelationID: id}, TenantID: s.cfg.OperatorTenantID,
		Access: []events.GrantAccess{{Type: grant.TypeIncomingPayment, Actions: []string{grant.ActionCreate, grant.ActionRead},
			Identifier: "http://wallet.test/grant-ui"}},
		Client: events.GrantClient{WalletAddress: "http://wallet.test/grant-client"}})
	if err != nil {
		t.Fatal(err)
	}
	b := s.browser(t).login(s.cfg.OperatorTenantID, s.cfg.AdminAPISecret)
	testkit.Eventually(t, 10*time.Second, func() bool {
		b.get("/grants")
		return b.status == http.StatusOK && strings.Contains(b.page, req.GrantID)
	}, "the grant is not listed")
	b.sees(http.StatusOK, "http://wallet.test/grant-client", "APPROVED", "incoming-payment: create, read")
	b.get("/grants?state=FINALIZED").sees(http.StatusOK, "No grants match the filter").lacks(req.GrantID)
	b.get("/grants/"+req.GrantID).sees(http.StatusOK, "APPROVED", "http://wallet.test/grant-ui", ">History</a>", "Revoke")
	b.submit("/grants/"+req.GrantID+"/revoke", nil).sees(http.StatusUnprocessableEntity, "Tick the box")
	b.get("/grants/"+req.GrantID).submit("/grants/"+req.GrantID+"/revoke", map[string]string{"confirm": "yes"}).
		sees(http.StatusOK, "Grant revoked.", "FINALIZED", "REVOKED").lacks(`action="/grants/` + req.GrantID + `/revoke"`)
	b.get("/history/"+req.GrantID).sees(http.StatusOK, "grant.requested", "grant.revoked")
	b.get("/grants/" + uuid.NewString()).sees(http.StatusNotFound)
}
