package adminapi

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The shape a document may have, as Rafiki's GraphQL Armor allows it: the
// complexity limit counts fields, not how many times a field is asked
// under other names, so 700 aliases of one list each ran its resolvers.
const (
	aliasesMax = 15
	depthMax   = 10
)

// shapeLimit refuses an operation with more aliases or deeper fields than
// the limits, counting the fields its fragments add where they are spread.
type shapeLimit struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = shapeLimit{}

func (shapeLimit) ExtensionName() string { return "ShapeLimit" }

func (shapeLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (shapeLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	w := shapeWalk{fragments: rc.Doc.Fragments}
	w.selections(rc.Operation.SelectionSet, 1)
	switch {
	case w.depth > depthMax:
		return shapeError("the query is deeper than %d fields", depthMax)
	case w.aliases > aliasesMax:
		return shapeError("the query has more than %d aliases", aliasesMax)
	}
	return nil
}

// shapeError is a refusal of the document, coded as the schema's own
// validation failures are (and as Rafiki's Armor refusals are).
func shapeError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

// shapeWalk counts the aliases and the depth of a selection set. It stops
// descending past the depth limit, so a document's size bounds the walk
// however its fragments nest (validation has refused cycles already).
type shapeWalk struct {
	fragments ast.FragmentDefinitionList
	aliases   int
	depth     int
}

func (w *shapeWalk) selections(set ast.SelectionSet, depth int) {
	if depth > depthMax+1 || w.aliases > aliasesMax {
		return
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") && s.Alias == s.Name {
				continue
			}
			if s.Alias != "" && s.Alias != s.Name {
				w.aliases++
			}
			w.depth = max(w.depth, depth)
			w.selections(s.SelectionSet, depth+1)
		case *ast.InlineFragment:
			w.selections(s.SelectionSet, depth)
		case *ast.FragmentSpread:
			if f := w.fragments.ForName(s.Name); f != nil {
				w.selections(f.SelectionSet, depth)
			}
		}
	}
}
