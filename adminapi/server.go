package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/ratelog"
)

// complexityMax bounds the work one query may ask for, as Rafiki's GraphQL
// Armor cost limit does.
const complexityMax = 5000

// queryCacheEntriesMax bounds the parsed documents kept.
const queryCacheEntriesMax = 1000

// Options configure the GraphQL endpoint.
type Options struct {
	Introspection bool
	Idempotency   Idempotency
	Log           *slog.Logger
}

// Handler serves the admin GraphQL API on POST /graphql.
func Handler(r *Resolver, opts Options) http.Handler {
	return Serve(NewExecutableSchema(Config{Resolvers: r}), opts)
}

// Serve serves an admin GraphQL schema (the backend's, the auth service's)
// with the rules both keep: POST is the only transport, as the request
// signature covers the body alone and a query read from the URL (GET) would
// run unsigned; a bounded complexity; errors coded from the apperr table.
func Serve(schema graphql.ExecutableSchema, opts Options) http.Handler {
	srv := handler.New(schema)
	srv.AddTransport(transport.POST{})
	// Clients send the same few documents again and again; parsing and
	// validating each once is enough.
	srv.SetQueryCache(lru.New[*ast.QueryDocument](queryCacheEntriesMax))
	srv.Use(extension.FixedComplexityLimit(complexityMax))
	srv.Use(shapeLimit{})
	srv.AroundFields(markResolverErrors)
	srv.AroundFields(opts.Idempotency.Field)
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	}
	unserved := ratelog.New(time.Second)
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return present(ctx, err, opts.Log, unserved)
	})
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		opts.Log.Error("graphql resolver panicked", "panic", v)
		return errors.New("internal error")
	})
	return requestShape(srv)
}

// documentTokensMax bounds a document's tokens, counted before it is
// parsed: validating a document costs gqlparser time growing with the
// square of its fields (8,000 took seconds, 90,000 minutes), and the
// complexity and shape limits look at a document only once it is
// validated. Rafiki's documents, and the admin UI's, hold a few hundred.
// A document of documentBytesLexed bytes or fewer has too few tokens to
// matter and is not lexed.
const (
	documentTokensMax  = 2_000
	documentBytesLexed = 2 << 10
)

// requestParams are the members of a GraphQL request, in the types they
// must have.
type requestParams struct {
	Query         *string                    `json:"query"`
	OperationName *string                    `json:"operationName"`
	Variables     map[string]json.RawMessage `json:"variables"`
	Extensions    map[string]json.RawMessage `json:"extensions"`
}

// requestShape answers what the GraphQL transport would refuse in its own
// words (Go type names, the body echoed, no error code) with an error coded
// as any other bad input: a body that is not JSON, or not a JSON object, as
// application/json, or whose members have other types than a request's;
// and it refuses a document of more than documentTokensMax tokens before
// anything parses it.
func requestShape(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mediaType != "application/json" {
			badRequest(w, http.StatusUnsupportedMediaType, "the request must be application/json")
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			badRequest(w, http.StatusBadRequest, "could not read the request body")
			return
		}
		if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(body) {
			badRequest(w, http.StatusBadRequest, "the request body must be one JSON object: {query, variables, operationName}")
			return
		}
		var params requestParams
		if json.Unmarshal(body, &params) != nil {
			badRequest(w, http.StatusBadRequest, "query and operationName must be strings, variables and extensions objects")
			return
		}
		if params.Query != nil && len(*params.Query) > documentBytesLexed && tokensOver(*params.Query, documentTokensMax) {
			badRequest(w, http.StatusBadRequest, fmt.Sprintf("the document has more than %d tokens", documentTokensMax))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// tokensOver tells whether a document has more than n tokens, lexing no
// further than that; a document that does not lex is the parser's to
// refuse.
func tokensOver(document string, n int) bool {
	l := lexer.New(&ast.Source{Input: document})
	for range n + 1 {
		tok, err := l.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return false
		}
	}
	return true
}

func badRequest(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{
		"message": message, "extensions": map[string]any{"code": apperr.Lookup(apperr.InvalidInput).GraphQL}}}})
}

// resolverError marks an error that a resolver returned, as opposed to one
// the GraphQL layer raised about the request itself; gqlgen hands both to
// the presenter wrapped in a *gqlerror.Error.
type resolverError struct{ err error }

func (e resolverError) Error() string { return e.err.Error() }
func (e resolverError) Unwrap() error { return e.err }

func markResolverErrors(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err != nil {
		err = resolverError{err}
	}
	return res, err
}

// present maps an error to GraphQL: a domain error keeps its message and
// gets its code from the error table; anything else is logged and hidden.
func present(ctx context.Context, err error, log *slog.Logger, unserved *ratelog.Limiter) *gqlerror.Error {
	out := graphql.DefaultErrorPresenter(ctx, err)
	kind := apperr.KindOf(err)
	var fromResolver resolverError
	if gqlErr, ok := err.(*gqlerror.Error); ok && kind == apperr.Internal && !errors.As(err, &fromResolver) {
		// Raised by the GraphQL layer itself: a query that does not parse or
		// validate, or an argument that does not fit its type. Its message
		// is about the caller's input, so it is shown.
		if gqlErr.Extensions == nil || gqlErr.Extensions["code"] == nil {
			out.Extensions = map[string]any{"code": apperr.Lookup(apperr.InvalidInput).GraphQL}
		}
		// Suggestions of names would spell out the schema to whoever asks
		// wrong names, introspection off or not, as Rafiki's GraphQL Armor
		// knows.
		if before, _, found := strings.Cut(out.Message, " Did you mean "); found {
			out.Message = before
		}
		return out
	}
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client went away: no one reads the answer, and nothing
		// here failed.
		log.Debug("graphql request abandoned by its client", "path", graphql.GetPath(ctx).String(), "err", err)
	case kind == apperr.Internal:
		log.Error("graphql request failed", "path", graphql.GetPath(ctx).String(), "err", err)
	case kind == apperr.Unavailable, kind == apperr.Timeout:
		// The error's chain names what the request waited for. While a
		// service is down every request fails so: one line a second.
		unserved.Log(ctx, log, slog.LevelWarn, "graphql request unserved: a service it needs did not answer, or not in time",
			"path", graphql.GetPath(ctx).String(), "err", err)
	}
	out.Message = apperr.Message(err)
	out.Extensions = map[string]any{"code": apperr.Lookup(kind).GraphQL}
	return out
}
