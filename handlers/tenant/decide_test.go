package tenant

import (
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

const (
	operatorID = "00000000-0000-4000-8000-000000000001"
	tenantID   = "00000000-0000-4000-8000-000000000002"
)

var (
	operator = commands.Actor{TenantID: operatorID, Operator: true}
	self     = commands.Actor{TenantID: tenantID}
	active   = State{Exists: true, ID: tenantID, APISecret: "s", Settings: map[string]string{}}
	deleted  = func() State { s := active; now := time.Now(); s.DeletedAt = &now; return s }()
)

func str(s string) *string { return &s }

func TestDecideCreate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state State
		cmd   commands.CreateTenant
		id    string
		want  apperr.Kind
	}{
		{"operator creates", State{}, commands.CreateTenant{Meta: commands.Meta{Actor: operator}, APISecret: "x"}, tenantID, ""},
		{"tenant may not", State{}, commands.CreateTenant{Meta: commands.Meta{Actor: self}, APISecret: "x"}, tenantID, apperr.Forbidden},
		{"exists", active, commands.CreateTenant{Meta: commands.Meta{Actor: operator}, APISecret: "x"}, tenantID, apperr.Duplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := decideCreate(tc.state, tc.cmd, tc.id, "test.op")
			if tc.want != "" {
				if apperr.KindOf(err) != tc.want || evs != nil {
					t.Fatalf("got %v %v, want %s", evs, err, tc.want)
				}
				return
			}
			if err != nil || len(evs) != 1 {
				t.Fatalf("got %v %v", evs, err)
			}
		})
	}
}

func TestInitialSettings(t *testing.T) {
	got := map[string]string{}
	for _, s := range initialSettings(tenantID, "test.op", []events.Setting{{Key: SettingWebhookMaxRetry, Value: "3"}}) {
		got[s.Key] = s.Value
	}
	if got[SettingILPAddress] != "test.op."+tenantID || got[SettingWebhookTimeout] != "2000" || got[SettingWebhookMaxRetry] != "3" {
		t.Fatalf("defaults then requested: %v", got)
	}
	own := initialSettings(tenantID, "test.op", []events.Setting{{Key: SettingILPAddress, Value: "test.mine"}})
	if len(own) != 1 || own[0].Value != "test.mine" {
		t.Fatalf("a requested ILP address replaces the defaults: %v", own)
	}
}

func TestDecideUpdateAndDelete(t *testing.T) {
	if _, err := decideUpdate(active, commands.UpdateTenant{Meta: commands.Meta{Actor: commands.Actor{TenantID: "other"}}, TenantID: tenantID, PublicName: str("x")}); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("another tenant updating: %v", err)
	}
	if _, err := decideUpdate(active, commands.UpdateTenant{Meta: commands.Meta{Actor: operator}, TenantID: tenantID, APISecret: str("x")}); apperr.KindOf(err) != apperr.InvalidInput {
		t.Fatalf("operator setting a secret: %v", err)
	}
	if evs, err := decideUpdate(active, commands.UpdateTenant{Meta: commands.Meta{Actor: self}, TenantID: tenantID, APISecret: str("new")}); err != nil || len(evs) != 1 {
		t.Fatalf("tenant rotating its secret: %v %v", evs, err)
	}
	if evs, err := decideUpdate(active, commands.UpdateTenant{Meta: commands.Meta{Actor: self}, TenantID: tenantID}); err != nil || evs != nil {
		t.Fatalf("an empty update changes nothing: %v %v", evs, err)
	}
	if _, err := decideUpdate(deleted, commands.UpdateTenant{Meta: commands.Meta{Actor: operator}, TenantID: tenantID, PublicName: str("x")}); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("updating a deleted tenant: %v", err)
	}
	if _, err := decideDelete(active, commands.DeleteTenant{Meta: commands.Meta{Actor: self}, TenantID: tenantID}, operatorID); apperr.KindOf(err) != apperr.Forbidden {
		t.Fatalf("tenant deleting: %v", err)
	}
	if _, err := decideDelete(active, commands.DeleteTenant{Meta: commands.Meta{Actor: operator}, TenantID: operatorID}, operatorID); apperr.KindOf(err) != apperr.InvalidInput {
		t.Fatalf("deleting the operator: %v", err)
	}
	if _, err := decideDelete(deleted, commands.DeleteTenant{Meta: commands.Meta{Actor: operator}, TenantID: tenantID}, operatorID); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("deleting twice: %v", err)
	}
}

func TestDecideEnsureOperator(t *testing.T) {
	evs, _ := decideEnsureOperator(State{}, operatorID, "secret", "test.op")
	if _, ok := evs[0].(*events.TenantCreated); !ok {
		t.Fatalf("seeding a missing operator: %v", evs)
	}
	same := State{Exists: true, APISecret: "secret"}
	if evs, err := decideEnsureOperator(same, operatorID, "secret", "test.op"); evs != nil || err != nil {
		t.Fatalf("operator already seeded: %v %v", evs, err)
	}
	evs, _ = decideEnsureOperator(State{Exists: true, APISecret: "old"}, operatorID, "secret", "test.op")
	if u, ok := evs[0].(*events.TenantUpdated); !ok || *u.APISecret != "secret" {
		t.Fatalf("rotated ADMIN_API_SECRET: %v", evs)
	}
}

func TestEvolveFollowsEvents(t *testing.T) {
	s := Evolve(State{}, events.Envelope{AggregateID: tenantID}, &events.TenantCreated{APISecret: "a", Settings: []events.Setting{{Key: "K", Value: "1"}}})
	s = Evolve(s, events.Envelope{}, &events.TenantSettingsSet{Settings: []events.Setting{{Key: "K", Value: "2"}, {Key: "L", Value: "3"}}})
	s = Evolve(s, events.Envelope{}, &events.TenantUpdated{PublicName: str("P")})
	if !s.Active() || s.Settings["K"] != "2" || s.Settings["L"] != "3" || s.PublicName != "P" || s.APISecret != "a" {
		t.Fatalf("state %+v", s)
	}
	s = Evolve(s, events.Envelope{Time: time.Now()}, &events.TenantDeleted{})
	if s.Active() {
		t.Fatal("deleted tenant still active")
	}
}
