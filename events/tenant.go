package events

// Tenant events. A tenant is an account servicing entity sharing this
// instance; the operator tenant is the one seeded from OPERATOR_TENANT_ID.

// Setting is one tenant setting (key as Rafiki names it, e.g. WEBHOOK_URL).
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// TenantCreated's APISecret and IDPSecret are sealed in the log (see
// Secretive).
type TenantCreated struct {
	Email         string    `json:"email,omitempty"`
	APISecret     string    `json:"apiSecret"`
	IDPConsentURL string    `json:"idpConsentUrl,omitempty"`
	IDPSecret     string    `json:"idpSecret,omitempty"`
	PublicName    string    `json:"publicName,omitempty"`
	Settings      []Setting `json:"settings,omitempty"`
}

// TenantUpdated carries only the fields that changed; nil means unchanged.
type TenantUpdated struct {
	Email         *string `json:"email,omitempty"`
	APISecret     *string `json:"apiSecret,omitempty"`
	IDPConsentURL *string `json:"idpConsentUrl,omitempty"`
	IDPSecret     *string `json:"idpSecret,omitempty"`
	PublicName    *string `json:"publicName,omitempty"`
}

type TenantDeleted struct{}

// TenantSettingsSet upserts settings by key.
type TenantSettingsSet struct {
	Settings []Setting `json:"settings"`
}

func (TenantCreated) EventType() string     { return "tenant.created" }
func (TenantUpdated) EventType() string     { return "tenant.updated" }
func (TenantDeleted) EventType() string     { return "tenant.deleted" }
func (TenantSettingsSet) EventType() string { return "tenant.settings_set" }

func (TenantCreated) SchemaVersion() int     { return SealedSecretsVersion }
func (TenantUpdated) SchemaVersion() int     { return SealedSecretsVersion }
func (TenantDeleted) SchemaVersion() int     { return 1 }
func (TenantSettingsSet) SchemaVersion() int { return 1 }

func (e TenantCreated) MapSecrets(f func(field, value string) (string, error)) (Event, error) {
	if err := mapSecret(f, "apiSecret", &e.APISecret); err != nil {
		return nil, err
	}
	if err := mapSecret(f, "idpSecret", &e.IDPSecret); err != nil {
		return nil, err
	}
	return &e, nil
}

func (e TenantUpdated) MapSecrets(f func(field, value string) (string, error)) (Event, error) {
	if err := mapSecretPtr(f, "apiSecret", &e.APISecret); err != nil {
		return nil, err
	}
	if err := mapSecretPtr(f, "idpSecret", &e.IDPSecret); err != nil {
		return nil, err
	}
	return &e, nil
}

func init() {
	register(
		func() Event { return &TenantCreated{} },
		func() Event { return &TenantUpdated{} },
		func() Event { return &TenantDeleted{} },
		func() Event { return &TenantSettingsSet{} },
	)
}
