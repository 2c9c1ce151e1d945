package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"gopkg.in/yaml.v3"

	"github.com/rafiki-go/rafiki/testkit"
)

// openPaymentsSpec loads one of the Open Payments specs
// (@interledger/open-payments, see testkit.OpenPaymentsSpec) to check
// answers against, read as the specs' publishers validate with them
// (@interledger/openapi): keywords next to a local $ref are merged into a
// copy of the schema it points to, as json-schema-ref-parser's dereference
// does, instead of JSON Schema 2020-12's reading, under which the
// `additionalProperties: false` written next to the incoming payment's $ref
// refuses every property; the uint64 and uri formats are asserted.
func openPaymentsSpec(t *testing.T, name string) *openapi3.T {
	t.Helper()
	path := testkit.OpenPaymentsSpec(t, name)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	merged, err := mergeRefSiblings(tree, tree)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	data, err := yaml.Marshal(merged)
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	doc, err := loader.LoadFromDataWithPath(data, &url.URL{Path: path})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	doc.SetStringFormatValidator("uint64", openapi3.NewCallbackValidator(func(s string) error {
		_, err := strconv.ParseUint(s, 10, 64)
		return err
	}))
	doc.SetStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
		if u, err := url.Parse(s); err != nil || !u.IsAbs() {
			return fmt.Errorf("%q is not an absolute URI", s)
		}
		return nil
	}))
	return doc
}

// mergeRefSiblings replaces, below node, each object holding a local $ref
// and other keywords by the object the $ref points to with those keywords
// set over it.
func mergeRefSiblings(root map[string]any, node any) (any, error) {
	switch n := node.(type) {
	case map[string]any:
		if ref, ok := n["$ref"].(string); ok && len(n) > 1 && strings.HasPrefix(ref, "#/") {
			var target any = root
			for _, name := range strings.Split(ref[2:], "/") {
				m, ok := target.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("$ref %s points nowhere", ref)
				}
				target = m[name]
			}
			referenced, ok := target.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("$ref %s does not point to an object", ref)
			}
			out := map[string]any{}
			for k, v := range referenced {
				out[k] = v
			}
			for k, v := range n {
				if k != "$ref" {
					out[k] = v
				}
			}
			n = out
		}
		out := make(map[string]any, len(n))
		for k, v := range n {
			merged, err := mergeRefSiblings(root, v)
			if err != nil {
				return nil, err
			}
			out[k] = merged
		}
		return out, nil
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			merged, err := mergeRefSiblings(root, v)
			if err != nil {
				return nil, err
			}
			out[i] = merged
		}
		return out, nil
	}
	return node, nil
}

// checkRequest validates a request's parameters (path, query, headers)
// and body against the operation at method and path of the spec; the
// security requirement is left to the tests of the guard.
func checkRequest(doc *openapi3.T, method, path, target string, header http.Header, body []byte) error {
	item := doc.Paths.Value(path)
	if item == nil || item.GetOperation(method) == nil {
		return fmt.Errorf("spec has no operation %s %s", method, path)
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = header.Clone()
	params := map[string]string{}
	if strings.Contains(path, "{id}") {
		resource := strings.TrimSuffix(req.URL.Path, "/complete")
		params["id"] = resource[strings.LastIndex(resource, "/")+1:]
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{Request: req, PathParams: params,
		Route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)},
		Options: &openapi3filter.Options{SchemaValidationOptions: doc.GetSchemaValidationOptions(),
			AuthenticationFunc: func(context.Context, *openapi3filter.AuthenticationInput) error { return nil }}})
}

// specAnswer is an answer to check against an operation of a spec.
type specAnswer struct {
	Method, Path string // the operation: its method and path in the spec
	Status       int
	Header       http.Header
	Body         []byte
	// Unlisted is an error answer with a status the spec has no response
	// for, which Rafiki gives all the same: it is checked as an error
	// answer (error-response).
	Unlisted bool
}

// matchesSpec fails t unless the answer matches the spec (checkAnswer).
func matchesSpec(t *testing.T, doc *openapi3.T, a specAnswer) {
	t.Helper()
	if err := checkAnswer(doc, a); err != nil {
		t.Fatalf("%s %s: the answer does not match the spec: %v\n%s", a.Method, a.Path, err, a.Body)
	}
}

// checkAnswer validates an answer's status, Content-Type, headers and body
// against the operation; a status the operation does not list is checked
// against the spec's shared response of that status (components.responses),
// and fails when there is none unless the answer is Unlisted.
func checkAnswer(doc *openapi3.T, a specAnswer) error {
	item := doc.Paths.Value(a.Path)
	if item == nil {
		return fmt.Errorf("spec has no path %s", a.Path)
	}
	op := item.GetOperation(a.Method)
	if op == nil {
		return fmt.Errorf("spec has no operation %s %s", a.Method, a.Path)
	}
	status := strconv.Itoa(a.Status)
	shared, listed := doc.Components.Responses[status]
	switch {
	case a.Unlisted && (listed || op.Responses.Status(a.Status) != nil):
		return fmt.Errorf("the spec has a response %d now: the answer is not unlisted", a.Status)
	case a.Unlisted:
		errorSchema, ok := doc.Components.Schemas["error-response"]
		if !ok {
			return errors.New("spec has no schema error-response")
		}
		shared, listed = &openapi3.ResponseRef{Value: openapi3.NewResponse().WithJSONSchemaRef(errorSchema)}, true
	}
	if op.Responses.Status(a.Status) == nil && listed {
		copied := *op
		copied.Responses = openapi3.NewResponses()
		for s, r := range op.Responses.Map() {
			copied.Responses.Set(s, r)
		}
		copied.Responses.Set(status, shared)
		op = &copied
	}
	req, err := http.NewRequest(a.Method, "http://spec.invalid"+a.Path, nil)
	if err != nil {
		return err
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req,
			Route: &routers.Route{Spec: doc, Path: a.Path, PathItem: item, Method: a.Method, Operation: op}},
		Status: a.Status, Header: a.Header, Body: io.NopCloser(bytes.NewReader(a.Body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, SchemaValidationOptions: doc.GetSchemaValidationOptions()},
	})
}
