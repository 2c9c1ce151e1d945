package gqlschema

import (
	"slices"
	"strings"
	"testing"
)

// TestSchemaComparisonCatchesMismatches makes sure the checks above fail
// on what they are meant to catch, so that their passing means something.
func TestSchemaComparisonCatchesMismatches(t *testing.T) {
	str := func(s string) *string { return &s }
	named := func(kind, name string) TypeRef { return TypeRef{Kind: kind, Name: str(name)} }
	nonNull := func(r TypeRef) TypeRef { return TypeRef{Kind: "NON_NULL", OfType: &r} }
	list := func(r TypeRef) TypeRef { return TypeRef{Kind: "LIST", OfType: &r} }
	strT, idT := named("SCALAR", "String"), named("SCALAR", "ID")

	rafiki := map[string]*Type{
		"Thing": {Kind: "OBJECT", Name: "Thing", Fields: []Field{
			{Name: "id", Type: nonNull(idT), Args: []InputValue{{Name: "x", Type: strT}}},
			{Name: "tags", Type: nonNull(list(nonNull(strT)))},
		}},
		"ThingInput": {Kind: "INPUT_OBJECT", Name: "ThingInput", InputFields: []InputValue{{Name: "id", Type: nonNull(idT)}}},
		"Color":      {Kind: "ENUM", Name: "Color", EnumValues: []EnumValue{{Name: "RED"}, {Name: "BLUE"}}},
	}
	cases := []struct {
		name string
		ours *Type
		want string
	}{
		{"nullability", &Type{Kind: "OBJECT", Name: "Thing", Fields: []Field{{Name: "id", Type: idT, Args: []InputValue{{Name: "x", Type: strT}}}}},
			"Thing.id: ours ID, Rafiki's ID!"},
		{"list wrapping", &Type{Kind: "OBJECT", Name: "Thing", Fields: []Field{{Name: "tags", Type: nonNull(list(strT))}}},
			"Thing.tags: ours [String]!, Rafiki's [String!]!"},
		{"argument type", &Type{Kind: "OBJECT", Name: "Thing", Fields: []Field{{Name: "id", Type: nonNull(idT), Args: []InputValue{{Name: "x", Type: nonNull(strT)}}}}},
			"Thing.id argument x: ours String!, Rafiki's String"},
		{"missing argument", &Type{Kind: "OBJECT", Name: "Thing", Fields: []Field{{Name: "id", Type: nonNull(idT)}}},
			"Thing.id argument x: ours has none, Rafiki's String"},
		{"extra field", &Type{Kind: "OBJECT", Name: "Thing", Fields: []Field{{Name: "extra", Type: strT}}},
			"Thing.extra: ours is String, Rafiki's Thing has no such field"},
		{"kind", &Type{Kind: "INPUT_OBJECT", Name: "Thing"}, "Thing: ours is INPUT_OBJECT, Rafiki's is OBJECT"},
		{"unknown type", &Type{Kind: "OBJECT", Name: "Other"}, "Other: ours is OBJECT, Rafiki has no such type"},
		{"input field", &Type{Kind: "INPUT_OBJECT", Name: "ThingInput", InputFields: []InputValue{{Name: "id", Type: idT}}},
			"ThingInput input field id: ours ID, Rafiki's ID!"},
		{"missing input field", &Type{Kind: "INPUT_OBJECT", Name: "ThingInput"},
			"ThingInput input field id: ours has none, Rafiki's ID!"},
		{"enum value", &Type{Kind: "ENUM", Name: "Color", EnumValues: []EnumValue{{Name: "RED"}}},
			"Color: ours lacks value BLUE"},
	}
	for _, c := range cases {
		problems := CompareTypes(map[string]*Type{c.ours.Name: c.ours}, rafiki)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, c.want) }) {
			t.Errorf("%s: want a problem starting %q, got %q", c.name, c.want, problems)
		}
	}
	unusedBuiltIn := map[string]*Type{"Float": {Kind: "SCALAR", Name: "Float"}}
	if problems := CompareTypes(unusedBuiltIn, rafiki); len(problems) != 0 {
		t.Errorf("a built-in scalar Rafiki's schema does not use: want no problem, got %q", problems)
	}
	same := map[string]*Type{"Thing": {Kind: "OBJECT", Name: "Thing", Fields: rafiki["Thing"].Fields[1:]}}
	if problems := CompareTypes(same, rafiki); len(problems) != 0 {
		t.Errorf("a subset of Rafiki's fields: want no problem, got %q", problems)
	}
}
