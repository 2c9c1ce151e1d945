package projections_test

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"testing"

	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/projections"
)

// TestDecodeMatchesEvents: the runner's and replay's decoding of stored
// events gives what events.Unmarshal and events.Decode give, errors
// included, for envelopes as the store holds them (read in one pass) and for
// variants the one-pass reading must leave to events.Unmarshal.
func TestDecodeMatchesEvents(t *testing.T) {
	var stored [][]byte
	for name, gen := range histories {
		h := newHistory(int64(len(name))+1, nil)
		gen(h)
		stored = append(stored, h.data...)
	}
	for _, data := range stored {
		if !projections.ScanEnvelope(data) {
			t.Fatalf("not read in one pass: %s", data)
		}
		decodeMatches(t, data)
	}
	data := stored[0]
	for i, variant := range decodeVariants(data) {
		if bytes.Equal(variant, data) {
			t.Fatalf("variant %d does not change the envelope", i)
		}
		decodeMatches(t, variant)
	}
}

// decodeVariants are edits of a stored envelope: some still valid, some
// not.
func decodeVariants(data []byte) [][]byte {
	s := string(data)
	replace := func(old, new string) []byte {
		return []byte(bytesReplaceOnce(s, old, new))
	}
	// The event's own version, and the next, which this build does not know.
	m := regexp.MustCompile(`"schemaVersion":([0-9])`).FindStringSubmatch(s)
	if m == nil {
		panic("no schema version in " + s)
	}
	version := `"schemaVersion":` + m[1]
	newer := fmt.Sprintf(`"schemaVersion":%d`, m[1][0]-'0'+1)
	return [][]byte{
		replace(`{"id"`, `{ "id"`),
		replace(`"type":"`, `"type": "`),
		replace(`"type":"`, `"type":"x\u0061`),
		replace(`"aggregateType":"`, `"aggregateType":"\u00e9`),
		replace(`"aggregateType":"`, `"aggregateType":"é`),
		replace(`"aggregateType":"`, `"aggregateType":"`+"\x01"),
		replace(version, newer),
		replace(version, `"schemaVersion":01`),
		replace(version, `"schemaVersion":0`),
		replace(version, `"schemaVersion":-1`),
		replace(version, `"schemaVersion":1234567890`),
		replace(version, `"schemaVersion":1.0`),
		replace(`"id":"`, `"id":"x`),
		replace(`"id":"`, `"id":null,"x":"`),
		replace(`"time":"2`, `"time":"x2`),
		replace(`"time":"`, `"time":null,"x":"`),
		replace(`"causationId":"c"`, `"causationId":""`),
		replace(`,"causationId":"c"`, ``),
		replace(`"causationId":"c"`, `"causationId":"c","correlationId":"r"`),
		replace(`"causationId":"c"`, `"correlationId":"r","causationId":"c"`),
		replace(`"data":{`, `"data":{"x":}`),
		replace(`"data":{`, `"data":{}, "x":{`),
		replace(`"data":{`, `"data": {`),
		replace(`"data":{`, `"extra":1,"data":{`),
		replace(`"tenantId":"`, `"tenantid":"`),
		replace(`"type":"`, `"type":"unknown.`),
		append(bytes.Clone(data), ' '),
		append(bytes.Clone(data[:len(data)-1]), " }"...),
		append(bytes.Clone(data[:len(data)-1]), `,"extra":1}`...),
		append(bytes.Clone(data[:len(data)-1]), `,"data":{}}`...),
		data[:len(data)-1],
		[]byte(`{"id":"5b0f4f3e-3a55-4a0c-9d4e-2f1b6f0c7a01","data":{}}`),
		[]byte(`{}`),
		[]byte(`[]`),
	}
}

func bytesReplaceOnce(s, old, new string) string {
	out := []byte(s)
	i := bytes.Index(out, []byte(old))
	if i < 0 {
		panic(fmt.Sprintf("%q not in %s", old, s))
	}
	return string(out[:i]) + new + string(out[i+len(old):])
}

func decodeMatches(t *testing.T, data []byte) {
	t.Helper()
	env, ev, evErr, err := projections.Decode(data, 7)
	wantEnv, wantErr := events.Unmarshal(data, 7)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("%s: envelope error %v, want %v", data, err, wantErr)
	}
	if err != nil {
		return
	}
	wantEv, wantEvErr := events.Decode(wantEnv)
	if (evErr == nil) != (wantEvErr == nil) || evErr != nil && evErr.Error() != wantEvErr.Error() {
		t.Fatalf("%s: event error %v, want %v", data, evErr, wantEvErr)
	}
	if !reflect.DeepEqual(env, wantEnv) {
		t.Fatalf("%s: envelope\n%#v\nwant\n%#v", data, env, wantEnv)
	}
	if !reflect.DeepEqual(ev, wantEv) {
		t.Fatalf("%s: event %#v, want %#v", data, ev, wantEv)
	}
}

// FuzzDecodeMatchesEvents: whatever the bytes, decoding gives what
// events.Unmarshal and events.Decode give.
func FuzzDecodeMatchesEvents(f *testing.F) {
	h := newHistory(3, nil)
	histories["peers"](h)
	for _, data := range h.data[:20] {
		f.Add(data)
	}
	for _, data := range decodeVariants(h.data[0]) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { decodeMatches(t, data) })
}
