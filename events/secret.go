package events

// SealedSecretsVersion is the schema version from which an event type that
// carries secrets (a Secretive) holds them sealed: AES-256-GCM ciphertext
// under its aggregate's data key (package secrets). An event of an earlier
// version holds them in plain text, as they were recorded before.
const SealedSecretsVersion = 2

// Secretive is an event that carries secrets. The log keeps them sealed:
// they are sealed before the event is appended, and opened by whoever reads
// the event and needs them, so that in memory they are plain text.
type Secretive interface {
	Event
	// MapSecrets returns a copy of the event with every non-empty secret
	// replaced by f's result. field names the secret (its JSON name) for
	// f, which seals it under that name. An element of a list of secrets
	// that f maps to the empty string is dropped: a secret that can no
	// longer be opened is no secret at all.
	MapSecrets(f func(field, value string) (string, error)) (Event, error)
}

// SecretFields are the JSON names of every secret an event carries, so that
// a tool printing an event's payload can hide them whatever the payload's
// version or type.
var SecretFields = map[string]bool{
	"apiSecret": true, "idpSecret": true, "incomingAuthTokens": true, "outgoingAuthToken": true,
	"dataFromSender": true, "dataToTransmit": true,
}

func mapSecret(f func(field, value string) (string, error), field string, value *string) error {
	if value == nil || *value == "" {
		return nil
	}
	v, err := f(field, *value)
	if err != nil {
		return err
	}
	*value = v
	return nil
}

// mapSecretPtr replaces a secret held by pointer without touching the
// value the original event points to.
func mapSecretPtr(f func(field, value string) (string, error), field string, value **string) error {
	if *value == nil {
		return nil
	}
	v := **value
	if err := mapSecret(f, field, &v); err != nil {
		return err
	}
	*value = &v
	return nil
}

func mapSecretList(f func(field, value string) (string, error), field string, values []string) ([]string, error) {
	if values == nil {
		return nil, nil
	}
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v == "" {
			continue
		}
		m, err := f(field, v)
		if err != nil {
			return nil, err
		}
		if m != "" {
			out = append(out, m)
		}
	}
	return out, nil
}
