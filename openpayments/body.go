package openpayments

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// readBody reads a request's JSON body into v, a struct, and checks it with
// complete; it answers 400 and reports false when the body is not JSON
// (by its Content-Type too), holds a member v does not name exactly, or
// cannot be decoded, or is not complete. Members are matched as the spec's
// validator matches them, case and all: encoding/json alone would take
// "WALLETADDRESS" for walletAddress.
func readBody(w http.ResponseWriter, r *http.Request, v any, complete func() bool) ([]byte, bool) {
	if media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || media != "application/json" {
		writeError(w, http.StatusBadRequest, "the request body must be application/json")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, requestBytesMax))
	if err != nil {
		writeError(w, http.StatusBadRequest, "could not read the request")
		return nil, false
	}
	if !membersNamed(body, reflect.TypeOf(v).Elem()) {
		writeError(w, http.StatusBadRequest, "invalid request body")
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil || !complete() {
		writeError(w, http.StatusBadRequest, "invalid request body")
		return nil, false
	}
	// One JSON value and nothing after it, whitespace aside.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "invalid request body")
		return nil, false
	}
	return body, true
}

// membersNamed tells whether body is a JSON object whose members are all
// named, exactly, by the json tags of struct type t.
func membersNamed(body []byte, t reflect.Type) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil || members == nil {
		return false
	}
	for name := range members {
		if !tagged(t, name) {
			return false
		}
	}
	return true
}

func tagged(t reflect.Type, name string) bool {
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag == name {
			return true
		}
	}
	return false
}

// UnmarshalJSON reads an amount's value, assetCode and assetScale by their
// exact names, as JSON.parse does: {"value": "5", "VALUE": "50000"} is 5
// with a member the spec's open amount ignores.
func (a *amountIn) UnmarshalJSON(b []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return err
	}
	var in amountIn
	for _, f := range []struct {
		name string
		into any
	}{{"value", &in.Value}, {"assetCode", &in.AssetCode}, {"assetScale", &in.AssetScale}} {
		raw, ok := members[f.name]
		if !ok || string(raw) == "null" {
			return errors.New("an amount has a value, an assetCode and an assetScale")
		}
		if err := json.Unmarshal(raw, f.into); err != nil {
			return err
		}
	}
	*a = in
	return nil
}
