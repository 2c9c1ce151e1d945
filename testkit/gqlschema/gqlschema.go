// Package gqlschema compares a GraphQL schema, read by introspection, with
// one of Rafiki's recorded as an introspection result (names and types only,
// no descriptions) in shared/research/graphql, a folder beside the
// repository that no package provides.
//
// Match requires that everything we define is exactly as Rafiki has it: the
// same kind; for objects and interfaces, every field we have with the same
// type (NON_NULL/LIST wrapping and named type) and the same arguments; for
// input objects the same input fields; for enums the same values. Everything
// Rafiki has that we lack must be listed as pending, and nothing listed as
// pending may exist in our schema yet: implementing something means deleting
// it from the lists, which only ever shrink. Documented requires a
// description on every object, input and enum type, and on every Query and
// Mutation field.
//
// Rafiki's recordings have no interfaces, possibleTypes, default values or
// deprecations, so those are not compared.
package gqlschema

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/rafiki-go/rafiki/testkit"
)

// Pending are Rafiki's types, and fields of types we have, that we do not
// have yet ("Type.field"); both sorted, one a line.
type Pending struct {
	Types  []string
	Fields []string
}

// Match compares ours with Rafiki's and logs how much of it we match.
func Match(t *testing.T, ours, rafiki *Schema, pending Pending) {
	t.Helper()
	if ours.QueryType.name() != rafiki.QueryType.name() || ours.MutationType.name() != rafiki.MutationType.name() {
		t.Errorf("root types: ours query %q mutation %q, Rafiki's query %q mutation %q",
			ours.QueryType.name(), ours.MutationType.name(), rafiki.QueryType.name(), rafiki.MutationType.name())
	}
	oursByName := ByName(ours)
	rafikiByName := ByName(rafiki)
	t.Run("our types are Rafiki's", func(t *testing.T) {
		report(t, "our schema differs from Rafiki's", CompareTypes(oursByName, rafikiByName))
	})
	t.Run("Rafiki's types are ours or pending", func(t *testing.T) {
		report(t, "Rafiki's schema has what ours lacks and the pending lists do not name", missingFromOurs(oursByName, rafikiByName, pending))
	})
	t.Run("pending lists are current", func(t *testing.T) {
		report(t, "the pending lists are out of date", checkPending(oursByName, rafikiByName, pending))
	})
	logSummary(t, oursByName, rafikiByName, rafiki, pending)
}

// Documented checks our descriptions.
func Documented(t *testing.T, ours *Schema) {
	t.Helper()
	report(t, "descriptions are missing", missingDescriptions(ByName(ours), ours))
}

// Generated checks that every schema/*.graphql file below the package
// directory is compiled into the executable schema: a file added without
// go generate would otherwise be invisible to the other checks.
func Generated(t *testing.T, compiled *ast.Schema) {
	t.Helper()
	onDisk, err := fs.Glob(os.DirFS("."), "schema/*.graphql")
	if err != nil {
		t.Fatal(err)
	}
	if len(onDisk) == 0 {
		t.Fatal("no schema/*.graphql below the package directory")
	}
	sources := map[string]bool{}
	for _, def := range compiled.Types {
		if def.BuiltIn {
			continue
		}
		if def.Position != nil && def.Position.Src != nil {
			sources[filepath.ToSlash(def.Position.Src.Name)] = true
		}
		for _, f := range def.Fields {
			if f.Position != nil && f.Position.Src != nil && !f.Position.Src.BuiltIn {
				sources[filepath.ToSlash(f.Position.Src.Name)] = true
			}
		}
	}
	var problems []string
	for _, f := range onDisk {
		if !sources[f] {
			problems = append(problems, fmt.Sprintf("%s is not in the generated executable schema", f))
		}
	}
	report(t, "generated.go is stale (run go generate in the package)", problems)
}

// Introspect runs the full introspection query through a GraphQL handler
// at POST path; ctx carries what the handler's middleware would attach.
func Introspect(t *testing.T, ctx context.Context, h http.Handler, path string) *Schema {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": IntrospectionQuery, "operationName": "IntrospectionQuery"})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("introspection: HTTP %d: %s", rec.Code, rec.Body)
	}
	s, err := Decode(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("introspection of our schema: %v\n%s", err, rec.Body)
	}
	return s
}

// Schema is an introspection result's __schema.
type Schema struct {
	QueryType    *NamedRef `json:"queryType"`
	MutationType *NamedRef `json:"mutationType"`
	Types        []*Type   `json:"types"`
}

// NamedRef names a root type.
type NamedRef struct {
	Name string `json:"name"`
}

func (n *NamedRef) name() string {
	if n == nil {
		return ""
	}
	return n.Name
}

// Type is one of a schema's types.
type Type struct {
	Kind          string       `json:"kind"`
	Name          string       `json:"name"`
	Description   *string      `json:"description"`
	Fields        []Field      `json:"fields"`
	InputFields   []InputValue `json:"inputFields"`
	EnumValues    []EnumValue  `json:"enumValues"`
	Interfaces    []TypeRef    `json:"interfaces"`
	PossibleTypes []TypeRef    `json:"possibleTypes"`
}

// Field is a field of an object or interface.
type Field struct {
	Name        string       `json:"name"`
	Description *string      `json:"description"`
	Args        []InputValue `json:"args"`
	Type        TypeRef      `json:"type"`
}

// InputValue is an argument or an input object's field.
type InputValue struct {
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Type        TypeRef `json:"type"`
}

// EnumValue is one value of an enum.
type EnumValue struct {
	Name string `json:"name"`
}

// TypeRef refers to a type, wrapped in NON_NULL and LIST.
type TypeRef struct {
	Kind   string   `json:"kind"`
	Name   *string  `json:"name"`
	OfType *TypeRef `json:"ofType"`
}

// String writes the reference as in SDL, [Asset!]!, with the named type's
// kind so that a scalar and an enum of the same name differ.
func (r TypeRef) String() string {
	switch r.Kind {
	case "NON_NULL":
		return r.ofType().String() + "!"
	case "LIST":
		return "[" + r.ofType().String() + "]"
	}
	name := "<nil>"
	if r.Name != nil {
		name = *r.Name
	}
	return name
}

func (r TypeRef) ofType() TypeRef {
	if r.OfType == nil {
		return TypeRef{Kind: "<missing ofType>"}
	}
	return *r.OfType
}

// named is the innermost, named type of a reference.
func (r TypeRef) named() TypeRef {
	for r.Kind == "NON_NULL" || r.Kind == "LIST" {
		r = r.ofType()
	}
	return r
}

func described(d *string) bool { return d != nil && strings.TrimSpace(*d) != "" }

// ByName indexes a schema's types, the introspection types aside.
func ByName(s *Schema) map[string]*Type {
	m := make(map[string]*Type, len(s.Types))
	for _, t := range s.Types {
		if !strings.HasPrefix(t.Name, "__") {
			m[t.Name] = t
		}
	}
	return m
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func fieldsByName(fs []Field) map[string]Field {
	m := make(map[string]Field, len(fs))
	for _, f := range fs {
		m[f.Name] = f
	}
	return m
}

func inputsByName(vs []InputValue) map[string]InputValue {
	m := make(map[string]InputValue, len(vs))
	for _, v := range vs {
		m[v.Name] = v
	}
	return m
}

// --- loading both schemas -------------------------------------------------

// LoadRafiki reads one of Rafiki's recorded schemas (file, in
// shared/research/graphql beside the clone; testkit.Shared says what happens
// without it).
func LoadRafiki(t *testing.T, file string) *Schema {
	t.Helper()
	data := testkit.Shared(t, "research/graphql/"+file)
	s, err := Decode(data)
	if err != nil {
		t.Fatalf("Rafiki's schema %s: %v", file, err)
	}
	return s
}

// Decode reads an introspection result.
func Decode(data []byte) (*Schema, error) {
	var resp struct {
		Data *struct {
			Schema *Schema `json:"__schema"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, err
	}
	if len(resp.Errors) > 0 {
		return nil, fmt.Errorf("errors: %s", resp.Errors)
	}
	if resp.Data == nil || resp.Data.Schema == nil || len(resp.Data.Schema.Types) == 0 {
		return nil, errors.New("no data.__schema.types")
	}
	return resp.Data.Schema, nil
}

// IntrospectionQuery is graphql-js's getIntrospectionQuery() with its
// default options, as GraphiQL and codegen tools send it.
const IntrospectionQuery = `
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives {
      name
      description
      locations
      args { ...InputValue }
    }
  }
}

fragment FullType on __Type {
  kind
  name
  description
  fields(includeDeprecated: true) {
    name
    description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) {
    name
    description
    isDeprecated
    deprecationReason
  }
  possibleTypes { ...TypeRef }
}

fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
}

fragment TypeRef on __Type {
  kind
  name
  ofType {
    kind
    name
    ofType {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
              }
            }
          }
        }
      }
    }
  }
}
`

// --- checks -----------------------------------------------------------------

// builtInScalars are the scalars every GraphQL schema has.
var builtInScalars = map[string]bool{"Int": true, "Float": true, "String": true, "Boolean": true, "ID": true}

// CompareTypes checks that everything we define is exactly Rafiki's.
func CompareTypes(ours, rafiki map[string]*Type) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, name := range sortedNames(ours) {
		o := ours[name]
		r, ok := rafiki[name]
		if !ok && o.Kind == "SCALAR" && builtInScalars[name] {
			// graphql-js leaves out the built-in scalars a schema does not
			// use; gqlgen lists them all.
			continue
		}
		if !ok {
			add("%s: ours is %s, Rafiki has no such type", name, o.Kind)
			continue
		}
		if o.Kind != r.Kind {
			add("%s: ours is %s, Rafiki's is %s", name, o.Kind, r.Kind)
			continue
		}
		switch o.Kind {
		case "OBJECT", "INTERFACE":
			rFields := fieldsByName(r.Fields)
			for _, of := range o.Fields {
				rf, ok := rFields[of.Name]
				if !ok {
					add("%s.%s: ours is %s, Rafiki's %s has no such field", name, of.Name, of.Type, name)
					continue
				}
				if of.Type.String() != rf.Type.String() {
					add("%s.%s: ours %s, Rafiki's %s", name, of.Name, of.Type, rf.Type)
				}
				problems = append(problems, compareInputs(name+"."+of.Name+" argument", of.Args, rf.Args)...)
			}
		case "INPUT_OBJECT":
			problems = append(problems, compareInputs(name+" input field", o.InputFields, r.InputFields)...)
		case "ENUM":
			ov, rv := enumNames(o), enumNames(r)
			for _, v := range ov {
				if !slices.Contains(rv, v) {
					add("%s: ours has value %s, Rafiki's has not (Rafiki's: %s)", name, v, strings.Join(rv, ", "))
				}
			}
			for _, v := range rv {
				if !slices.Contains(ov, v) {
					add("%s: ours lacks value %s (Rafiki's: %s)", name, v, strings.Join(rv, ", "))
				}
			}
		}
	}
	return problems
}

// compareInputs requires the same names with the same types, order aside.
func compareInputs(what string, ours, rafiki []InputValue) []string {
	var problems []string
	o, r := inputsByName(ours), inputsByName(rafiki)
	for _, n := range sortedNames(o) {
		rv, ok := r[n]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s %s: ours %s, Rafiki's has none", what, n, o[n].Type))
		case o[n].Type.String() != rv.Type.String():
			problems = append(problems, fmt.Sprintf("%s %s: ours %s, Rafiki's %s", what, n, o[n].Type, rv.Type))
		}
	}
	for _, n := range sortedNames(r) {
		if _, ok := o[n]; !ok {
			problems = append(problems, fmt.Sprintf("%s %s: ours has none, Rafiki's %s", what, n, r[n].Type))
		}
	}
	return problems
}

func enumNames(t *Type) []string {
	names := make([]string, 0, len(t.EnumValues))
	for _, v := range t.EnumValues {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	return names
}

// missingFromOurs lists what Rafiki has, we lack, and the pending lists do
// not name. Input objects and enums are compared whole by CompareTypes.
func missingFromOurs(ours, rafiki map[string]*Type, pending Pending) []string {
	var problems []string
	for _, name := range sortedNames(rafiki) {
		r := rafiki[name]
		o, ok := ours[name]
		if !ok {
			if !slices.Contains(pending.Types, name) {
				problems = append(problems, fmt.Sprintf("type %s (%s): not in our schema, not in pendingTypes", name, r.Kind))
			}
			continue
		}
		if r.Kind != "OBJECT" && r.Kind != "INTERFACE" || o.Kind != r.Kind {
			continue
		}
		oFields := fieldsByName(o.Fields)
		for _, rf := range r.Fields {
			key := name + "." + rf.Name
			if _, ok := oFields[rf.Name]; !ok && !slices.Contains(pending.Fields, key) {
				problems = append(problems, fmt.Sprintf("%s: Rafiki's %s%s, missing from ours, not in pendingFields", key, rf.Type, argList(rf.Args)))
			}
		}
	}
	return problems
}

func argList(args []InputValue) string {
	if len(args) == 0 {
		return ""
	}
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.Name + ": " + a.Type.String()
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// checkPending keeps the lists sorted, real and shrinking: every entry names
// something Rafiki has and we do not.
func checkPending(ours, rafiki map[string]*Type, pending Pending) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, l := range []struct {
		name    string
		entries []string
	}{{"pendingTypes", pending.Types}, {"pendingFields", pending.Fields}} {
		for i := 1; i < len(l.entries); i++ {
			if l.entries[i-1] >= l.entries[i] {
				add("%s is not sorted or has a duplicate: %q before %q", l.name, l.entries[i-1], l.entries[i])
			}
		}
	}
	for _, name := range pending.Types {
		if _, ok := rafiki[name]; !ok {
			add("pendingTypes: %s is not a type of Rafiki's", name)
		}
		if _, ok := ours[name]; ok {
			add("pendingTypes: %s is in our schema now; remove it from pendingTypes", name)
		}
	}
	for _, key := range pending.Fields {
		typeName, fieldName, ok := strings.Cut(key, ".")
		if !ok {
			add("pendingFields: %q is not Type.field", key)
			continue
		}
		r, ok := rafiki[typeName]
		if !ok || !slices.ContainsFunc(r.Fields, func(f Field) bool { return f.Name == fieldName }) {
			add("pendingFields: %s is not a field of Rafiki's", key)
		}
		o, ok := ours[typeName]
		switch {
		case !ok:
			add("pendingFields: %s is not in our schema; list the type in pendingTypes instead of its fields", typeName)
		case slices.ContainsFunc(o.Fields, func(f Field) bool { return f.Name == fieldName }):
			add("pendingFields: %s is in our schema now; remove it from pendingFields", key)
		}
	}
	return problems
}

// missingDescriptions: every object, input and enum type we define, and
// every field of the root types, is described.
func missingDescriptions(ours map[string]*Type, s *Schema) []string {
	var problems []string
	for _, name := range sortedNames(ours) {
		t := ours[name]
		switch t.Kind {
		case "OBJECT", "INPUT_OBJECT", "ENUM":
			if !described(t.Description) {
				problems = append(problems, fmt.Sprintf("type %s (%s) has no description", name, t.Kind))
			}
		}
	}
	for _, root := range []string{s.QueryType.name(), s.MutationType.name()} {
		t, ok := ours[root]
		if !ok {
			continue
		}
		for _, f := range t.Fields {
			if !described(f.Description) {
				problems = append(problems, fmt.Sprintf("field %s.%s has no description", root, f.Name))
			}
		}
	}
	return problems
}

func report(t *testing.T, headline string, problems []string) {
	t.Helper()
	if len(problems) > 0 {
		t.Errorf("%s (%d):\n\t%s", headline, len(problems), strings.Join(problems, "\n\t"))
	}
}

// logSummary tells how much of Rafiki's surface we match: a root field
// counts when it exists with the same type and arguments, a type when it
// exists with the same kind and no difference in what we define of it.
func logSummary(t *testing.T, ours, rafiki map[string]*Type, rs *Schema, pending Pending) {
	matchedFields := func(root string) (int, int) {
		r, o := rafiki[root], ours[root]
		if r == nil {
			return 0, 0
		}
		n := 0
		if o != nil {
			oFields := fieldsByName(o.Fields)
			for _, rf := range r.Fields {
				if of, ok := oFields[rf.Name]; ok && of.Type.String() == rf.Type.String() &&
					len(compareInputs("", of.Args, rf.Args)) == 0 {
					n++
				}
			}
		}
		return n, len(r.Fields)
	}
	q, qAll := matchedFields(rs.QueryType.name())
	m, mAll := matchedFields(rs.MutationType.name())
	typesMatched, partial := 0, []string{}
	for _, name := range sortedNames(rafiki) {
		o, ok := ours[name]
		if !ok || len(CompareTypes(map[string]*Type{name: o}, rafiki)) != 0 {
			continue
		}
		typesMatched++
		if len(o.Fields) < len(rafiki[name].Fields) {
			partial = append(partial, name)
		}
	}
	t.Logf("matching Rafiki: %d/%d query fields, %d/%d mutation fields, %d/%d types (of which %d lack fields: %s); pending: %d types, %d fields",
		q, qAll, m, mAll, typesMatched, len(rafiki), len(partial), strings.Join(partial, ", "), len(pending.Types), len(pending.Fields))
}
