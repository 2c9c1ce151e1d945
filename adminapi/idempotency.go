package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unicode"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/rafiki-go/rafiki/adminauth"
	"github.com/rafiki-go/rafiki/apperr"
)

// Idempotency makes mutations that carry input.idempotencyKey safe to
// retry, as Rafiki does: a lock while the first request runs, then its result
// kept and replayed for TTL; a different request under the same key is an
// error. Keys are scoped per tenant, so tenants cannot see each other's.
type Idempotency struct {
	Redis redis.UniversalClient
	TTL   time.Duration // GRAPHQL_IDEMPOTENCY_KEY_TTL_MS
	Lock  time.Duration // GRAPHQL_IDEMPOTENCY_KEY_LOCK_MS
}

type idempotentRecord struct {
	OperationName string          `json:"operationName"`
	RequestParams json.RawMessage `json:"requestParams"`
	RequestResult json.RawMessage `json:"requestResult"`
}

type commandIDKey struct{}

// commandIDFrom is the command id an idempotency key fixes, if any: a retry
// then is the same command, which answers what it did the first time and
// stores nothing new, even after its record here has expired.
func commandIDFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(commandIDKey{}).(string)
	return id, ok
}

// mutationResults maps each mutation to the Go type its resolver returns, so
// that a replayed result decodes into what the executor expects.
var mutationResults = func() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	t := reflect.TypeFor[MutationResolver]()
	for i := range t.NumMethod() {
		m := t.Method(i)
		out[m.Name] = m.Type.Out(0)
	}
	return out
}()

// Field is a gqlgen field middleware; it acts on mutations only.
func (i Idempotency) Field(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "Mutation" || i.Redis == nil {
		return next(ctx)
	}
	key := idempotencyKey(fc.Args)
	if key == "" {
		return next(ctx)
	}
	id, _ := adminauth.FromContext(ctx)
	scoped := id.TenantID + ":" + key
	lock := "lock:" + scoped
	cacheKey := "idempotency:" + scoped
	// The lock and the look-up travel together, and so do the record and
	// the unlock: two round trips to Redis instead of four. A look-up
	// made beside a lock not taken is not used.
	var locked *redis.BoolCmd
	var cached *redis.StringCmd
	_, err := i.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		locked = p.SetNX(ctx, lock, "1", i.Lock)
		cached = p.Get(ctx, cacheKey)
		return nil
	})
	if err := locked.Err(); err != nil {
		return nil, fmt.Errorf("idempotency lock: %w", err)
	}
	if !locked.Val() {
		return nil, apperr.E(apperr.Conflict, "Concurrent request for idempotencyKey: %s", key)
	}
	unlocked := false
	defer func() {
		if !unlocked {
			i.Redis.Del(context.WithoutCancel(ctx), lock)
		}
	}()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("idempotency cache: %w", err)
	}
	params, err := json.Marshal(fc.Args)
	if err != nil {
		return nil, err
	}
	if record, err := cached.Bytes(); err == nil {
		return replay(fc, record, params, key)
	}
	ctx = context.WithValue(ctx, commandIDKey{}, commandID(scoped, fc.Field.Name, params))
	res, err := next(ctx)
	if err != nil {
		return res, err
	}
	result, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	record, _ := json.Marshal(idempotentRecord{OperationName: fc.Field.Name, RequestParams: params, RequestResult: result})
	// The command ran: its record is kept even if the caller went away.
	bg := context.WithoutCancel(ctx)
	var stored *redis.StatusCmd
	_, _ = i.Redis.Pipelined(bg, func(p redis.Pipeliner) error {
		stored = p.Set(bg, cacheKey, record, i.TTL)
		p.Del(bg, lock)
		return nil
	})
	unlocked = true
	if err := stored.Err(); err != nil {
		return nil, fmt.Errorf("idempotency cache: %w", err)
	}
	return res, nil
}

// commandID derives the command a keyed request is: the key, the mutation
// and its arguments. A retry is the same command; a key used again for
// another request once its record has expired (as Rafiki allows) is another
// command, not a retry that would answer the first request's result.
func commandID(scopedKey, operation string, params []byte) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "rafiki:idempotency:%s\x00%s\x00%s", scopedKey, operation, params)).String()
}

func replay(fc *graphql.FieldContext, cached, params []byte, key string) (any, error) {
	var rec idempotentRecord
	if err := json.Unmarshal(cached, &rec); err != nil {
		return nil, fmt.Errorf("idempotency record for %s: %w", key, err)
	}
	if rec.OperationName != fc.Field.Name || !jsonEqual(rec.RequestParams, params) {
		return nil, apperr.E(apperr.InvalidInput, "Incoming arguments are different than the original request for idempotencyKey: %s", key)
	}
	t, ok := mutationResults[goName(fc.Field.Name)]
	if !ok {
		return nil, fmt.Errorf("no result type for mutation %s", fc.Field.Name)
	}
	out := reflect.New(t)
	if err := json.Unmarshal(rec.RequestResult, out.Interface()); err != nil {
		return nil, fmt.Errorf("idempotency record for %s: %w", key, err)
	}
	return out.Elem().Interface(), nil
}

// idempotencyKey reads input.idempotencyKey from a mutation's arguments.
func idempotencyKey(args map[string]any) string {
	input := reflect.ValueOf(args["input"])
	for input.Kind() == reflect.Pointer {
		if input.IsNil() {
			return ""
		}
		input = input.Elem()
	}
	if input.Kind() != reflect.Struct {
		return ""
	}
	f := input.FieldByName("IdempotencyKey")
	switch {
	case !f.IsValid():
		return ""
	case f.Kind() == reflect.String:
		return f.String()
	case f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.String:
		return f.Elem().String()
	}
	return ""
}

func goName(field string) string {
	r := []rune(field)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
