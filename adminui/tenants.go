package adminui

import (
	"net/http"
)

type tenantSetting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type tenant struct {
	ID            string          `json:"id"`
	Email         *string         `json:"email"`
	PublicName    *string         `json:"publicName"`
	IdpConsentURL *string         `json:"idpConsentUrl"`
	CreatedAt     string          `json:"createdAt"`
	DeletedAt     *string         `json:"deletedAt"`
	Settings      []tenantSetting `json:"settings"`
}

// settingKeys are the tenant settings the forms offer, in the API's order.
var settingKeys = []string{"EXCHANGE_RATES_URL", "WEBHOOK_URL", "WEBHOOK_TIMEOUT", "WEBHOOK_MAX_RETRY", "WALLET_ADDRESS_URL", "ILP_ADDRESS"}

// operatorOnly guards the tenant pages: only the operator manages tenants.
func (u *UI) operatorOnly(fn func(*request)) func(*request) {
	return func(rq *request) {
		if !rq.sess.Operator {
			rq.render(http.StatusForbidden, "error", "Not allowed", nil, "Only the operator manages tenants.")
			return
		}
		fn(rq)
	}
}

// operatorOrSelf guards a tenant's own page: the operator sees every
// tenant's, a tenant only its own.
func (u *UI) operatorOrSelf(fn func(*request)) func(*request) {
	return func(rq *request) {
		if !rq.sess.Operator && rq.r.PathValue("id") != rq.sess.TenantID {
			rq.render(http.StatusForbidden, "error", "Not allowed", nil, "A tenant sees only its own settings.")
			return
		}
		fn(rq)
	}
}

type tenantList struct {
	Tenants []tenant
	Pager   pager
}

func (u *UI) tenants(rq *request) {
	var out struct {
		Tenants struct {
			PageInfo pageInfo `json:"pageInfo"`
			Edges    []struct {
				Node tenant `json:"node"`
			} `json:"edges"`
		} `json:"tenants"`
	}
	q := `query($after: String, $before: String, $first: Int, $last: Int) {
  tenants(after: $after, before: $before, first: $first, last: $last) { ` + pageInfoFields + `
    edges { node { id email publicName createdAt deletedAt } } } }`
	if err := rq.gql(q, pageVars(rq.r), &out); err != nil {
		rq.apiFailed(err)
		return
	}
	list := tenantList{Pager: newPager(rq.r, out.Tenants.PageInfo)}
	for _, e := range out.Tenants.Edges {
		list.Tenants = append(list.Tenants, e.Node)
	}
	rq.render(http.StatusOK, "tenants", "Tenants", list)
}

type tenantForm struct{ SettingKeys []string }

func (u *UI) newTenant(rq *request) {
	rq.render(http.StatusOK, "tenant_new", "New tenant", tenantForm{SettingKeys: settingKeys})
}

// settingsIn are the settings filled in on a form, fields named after
// their keys.
func (rq *request) settingsIn() []map[string]any {
	settings := []map[string]any{}
	for _, k := range settingKeys {
		if v := rq.field("setting_" + k); v != "" {
			settings = append(settings, map[string]any{"key": k, "value": v})
		}
	}
	return settings
}

func (u *UI) createTenant(rq *request) {
	input := map[string]any{"apiSecret": rq.r.PostFormValue("apiSecret"), "settings": rq.settingsIn()}
	for _, name := range []string{"id", "email", "publicName", "idpConsentUrl", "idpSecret"} {
		if v := rq.optionalString(name); v != nil {
			input[name] = *v
		}
	}
	var out struct {
		CreateTenant struct {
			Tenant tenant `json:"tenant"`
		} `json:"createTenant"`
	}
	if err := rq.gql(`mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": input}, &out); err != nil {
		rq.render(http.StatusUnprocessableEntity, "tenant_new", "New tenant", tenantForm{SettingKeys: settingKeys}, u.problem(err))
		return
	}
	rq.done("/tenants/"+out.CreateTenant.Tenant.ID, "tenant-created")
}

type tenantPage struct {
	Tenant      tenant
	Settings    map[string]string
	SettingKeys []string
}

func (u *UI) showTenant(rq *request, status int, problems ...string) {
	var out struct {
		Tenant *tenant `json:"tenant"`
	}
	q := `query($id: String!) { tenant(id: $id) { id email publicName idpConsentUrl createdAt deletedAt settings { key value } } }`
	if err := rq.gql(q, map[string]any{"id": rq.r.PathValue("id")}, &out); err != nil {
		rq.render(http.StatusNotFound, "error", "Tenant", nil, u.problem(err))
		return
	}
	if out.Tenant == nil {
		rq.notFound("The tenant")
		return
	}
	settings := map[string]string{}
	for _, s := range out.Tenant.Settings {
		settings[s.Key] = s.Value
	}
	rq.render(status, "tenant", "Tenant "+out.Tenant.ID, tenantPage{Tenant: *out.Tenant, Settings: settings, SettingKeys: settingKeys}, problems...)
}

func (u *UI) tenant(rq *request) { u.showTenant(rq, http.StatusOK) }

// updateTenant changes what the form fills in; an empty field keeps what
// the tenant has (the secrets are never shown, only replaced).
func (u *UI) updateTenant(rq *request) {
	id := rq.r.PathValue("id")
	input := map[string]any{"id": id}
	for _, name := range []string{"email", "publicName", "idpConsentUrl", "idpSecret", "apiSecret"} {
		if v := rq.optionalString(name); v != nil {
			input[name] = *v
		}
	}
	if err := rq.gql(`mutation($input: UpdateTenantInput!) { updateTenant(input: $input) { tenant { id } } }`,
		map[string]any{"input": input}, nil); err != nil {
		u.showTenant(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	if id == rq.sess.TenantID && input["apiSecret"] != nil {
		// The operator replaced its own secret: sign with the new one.
		rq.sess.Secret = input["apiSecret"].(string)
		if err := u.setSession(rq.w, rq.r, rq.sess); err != nil {
			u.fail(rq.w, err)
			return
		}
	}
	rq.done("/tenants/"+id, "tenant-updated")
}

// saveSettings sets the settings the form changed. The API sets the
// signing tenant's own settings, so for another tenant the request is
// signed as that tenant, with the API secret the operator may read.
func (u *UI) saveSettings(rq *request) {
	id := rq.r.PathValue("id")
	var out struct {
		Tenant struct {
			APISecret string          `json:"apiSecret"`
			Settings  []tenantSetting `json:"settings"`
		} `json:"tenant"`
	}
	if err := rq.gql(`query($id: String!) { tenant(id: $id) { apiSecret settings { key value } } }`, map[string]any{"id": id}, &out); err != nil {
		u.showTenant(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	current := map[string]string{}
	for _, s := range out.Tenant.Settings {
		current[s.Key] = s.Value
	}
	// Only what changed is sent: setting a value again would record it
	// again (and an address setting claims its space again).
	var settings []map[string]any
	for _, s := range rq.settingsIn() {
		if current[s["key"].(string)] != s["value"] {
			settings = append(settings, s)
		}
	}
	if len(settings) == 0 {
		u.showTenant(rq, http.StatusUnprocessableEntity, "No setting changed.")
		return
	}
	signer := rq.client()
	if id != rq.sess.TenantID {
		signer = u.client(id, out.Tenant.APISecret)
	}
	if err := signer.Do(rq.r.Context(), `mutation($input: CreateTenantSettingsInput!) { createTenantSettings(input: $input) { settings { key } } }`,
		map[string]any{"input": map[string]any{"settings": settings}}, nil); err != nil {
		u.showTenant(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	rq.done("/tenants/"+id, "settings-saved")
}

func (u *UI) deleteTenant(rq *request) {
	id := rq.r.PathValue("id")
	if id == rq.sess.TenantID {
		u.showTenant(rq, http.StatusUnprocessableEntity, "The operator's own tenant cannot be deleted here.")
		return
	}
	if !rq.confirmed() {
		u.showTenant(rq, http.StatusUnprocessableEntity, notConfirmed)
		return
	}
	if err := rq.gql(`mutation($id: String!) { deleteTenant(id: $id) { success } }`, map[string]any{"id": id}, nil); err != nil {
		u.showTenant(rq, http.StatusUnprocessableEntity, u.problem(err))
		return
	}
	rq.done("/tenants", "tenant-deleted")
}
