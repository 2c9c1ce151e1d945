package events

import (
	"encoding/json"
	"testing"
	"time"
)

func TestSealAndDecodeRoundTrip(t *testing.T) {
	threshold := uint64(18446744073709551615)
	meta := Meta{AggregateType: "asset", AggregateID: "a1", TenantID: "t1", CausationID: "c1", Time: time.Now()}
	envs, err := Seal(meta, "cmd-1", 0, &AssetCreated{Code: "USD", Scale: 2, Ledger: 7, WithdrawalThreshold: &threshold})
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(envs[0])
	if err != nil {
		t.Fatal(err)
	}
	env, err := Unmarshal(data, 42)
	if err != nil {
		t.Fatal(err)
	}
	if env.Sequence != 42 || env.ID != DeriveID("cmd-1", 0) || env.Type != "asset.created" || env.SchemaVersion != 1 {
		t.Fatalf("envelope %+v", env)
	}
	ev, err := Decode(env)
	if err != nil {
		t.Fatal(err)
	}
	got := ev.(*AssetCreated)
	if got.Code != "USD" || got.Ledger != 7 || got.WithdrawalThreshold == nil || *got.WithdrawalThreshold != threshold || got.LiquidityThreshold != nil {
		t.Fatalf("decoded %+v", got)
	}
	if string(env.Data) != `{"code":"USD","scale":2,"ledger":7,"withdrawalThreshold":"18446744073709551615"}` {
		t.Fatalf("amounts must be strings in JSON: %s", env.Data)
	}
}

func TestDeriveIDIsStableAndDistinct(t *testing.T) {
	if DeriveID("a", 0) != DeriveID("a", 0) {
		t.Fatal("not stable")
	}
	if DeriveID("a", 0) == DeriveID("a", 1) || DeriveID("a", 0) == DeriveID("b", 0) {
		t.Fatal("not distinct")
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, env := range map[string]Envelope{
		"unknown type":   {Type: "nope", Data: json.RawMessage(`{}`)},
		"newer schema":   {Type: "asset.created", SchemaVersion: 99, Data: json.RawMessage(`{}`)},
		"bad payload":    {Type: "asset.created", SchemaVersion: 1, Data: json.RawMessage(`{"scale":"x"}`)},
		"negative scale": {Type: "asset.created", SchemaVersion: 1, Data: json.RawMessage(`{"scale":-1}`)},
	} {
		if _, err := Decode(env); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func TestEveryTypeIsRegisteredOnce(t *testing.T) {
	types := Types()
	if len(types) < 9 {
		t.Fatalf("catalogue has %d types: %v", len(types), types)
	}
	for _, name := range types {
		if catalogue[name]().EventType() != name {
			t.Fatalf("%s constructs the wrong type", name)
		}
	}
}

// FuzzDecode feeds arbitrary stored bytes through the envelope and payload
// decoders: they must return errors, never panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"5b0f4f3e-3a55-4a0c-9d4e-2f1b6f0c7a01","type":"asset.created","schemaVersion":1,"data":{"code":"USD","scale":2}}`))
	f.Add([]byte(`{"type":"tenant.updated","schemaVersion":1,"data":{"email":null}}`))
	f.Add([]byte(`{"type":"asset.fee_set","data":{"fixed":"-1"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Unmarshal(data, 1)
		if err != nil {
			return
		}
		_, _ = Decode(env)
	})
}
