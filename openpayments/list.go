package openpayments

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/readmodel"
)

// listPage reads a list request's wallet address and page (wallet-address,
// first, last, cursor), newest first; it answers 400 and reports false when
// they are missing or malformed. A parameter given empty is refused, as the
// spec's schemas have it, not taken as absent.
func listPage(w http.ResponseWriter, r *http.Request) (string, readmodel.Page, bool) {
	q := r.URL.Query()
	address := q.Get("wallet-address")
	if address == "" {
		writeError(w, http.StatusBadRequest, "wallet-address is required")
		return "", readmodel.Page{}, false
	}
	page := readmodel.Page{Descending: true}
	for name, size := range map[string]**int{"first": &page.First, "last": &page.Last} {
		if q.Has(name) {
			n, err := strconv.Atoi(q.Get(name))
			if err != nil || n < 1 || n > 100 {
				writeError(w, http.StatusBadRequest, name+" must be between 1 and 100")
				return "", readmodel.Page{}, false
			}
			*size = &n
		}
	}
	if page.First != nil && page.Last != nil {
		writeError(w, http.StatusBadRequest, "first and last exclude each other")
		return "", readmodel.Page{}, false
	}
	if q.Has("cursor") {
		cursor := q.Get("cursor")
		if cursor == "" {
			writeError(w, http.StatusBadRequest, "cursor must not be empty")
			return "", readmodel.Page{}, false
		}
		if page.Last != nil {
			page.Before = &cursor
		} else {
			page.After = &cursor
		}
	}
	return address, page, true
}

// listBody is a page of a list on the wire.
func listBody[T any](info readmodel.PageInfo, result []T) ([]byte, error) {
	type pageInfo struct {
		StartCursor     *string `json:"startCursor,omitempty"`
		EndCursor       *string `json:"endCursor,omitempty"`
		HasNextPage     bool    `json:"hasNextPage"`
		HasPreviousPage bool    `json:"hasPreviousPage"`
	}
	return json.Marshal(struct {
		Pagination pageInfo `json:"pagination"`
		Result     []T      `json:"result"`
	}{pageInfo{info.StartCursor, info.EndCursor, info.HasNextPage, info.HasPreviousPage}, result})
}

// refusePage answers a page the read model refuses (a cursor that is no
// id, a backward page without a cursor) with 400, and fails on anything
// else.
func refusePage(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	if apperr.KindOf(err) == apperr.InvalidInput {
		writeError(w, http.StatusBadRequest, apperr.Message(err))
		return
	}
	fail(log, w, r, err)
}
