package adminui

import (
	"net/http"
	"net/url"
)

// pageSize is how many items a list shows (the API's default page).
const pageSize = 20

// pageInfo is the API's Relay page information.
type pageInfo struct {
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
}

const pageInfoFields = `pageInfo { startCursor endCursor hasNextPage hasPreviousPage }`

// pageVars are a list query's cursor arguments, from the page's URL: the
// page after the cursor "after", before the cursor "before", or the first.
func pageVars(r *http.Request) map[string]any {
	q := r.URL.Query()
	if b := q.Get("before"); b != "" {
		return map[string]any{"before": b, "last": pageSize}
	}
	vars := map[string]any{"first": pageSize}
	if a := q.Get("after"); a != "" {
		vars["after"] = a
	}
	return vars
}

// pager holds the links to the pages around the one shown, keeping the
// list's other parameters (its filters).
type pager struct {
	Prev, Next string
}

func newPager(r *http.Request, info pageInfo) pager { return pagerAt(r.URL.Path, r.URL.Query(), info) }

// pagerAt links to the pages of the list shown at path with the
// parameters query: a page that answers a form lists from its own path.
func pagerAt(path string, query url.Values, info pageInfo) pager {
	link := func(key string, cursor *string) string {
		q := url.Values{}
		for k, v := range query {
			if k != "after" && k != "before" && k != "done" {
				q[k] = v
			}
		}
		q.Set(key, *cursor)
		return path + "?" + q.Encode()
	}
	var p pager
	if info.HasPreviousPage && info.StartCursor != nil {
		p.Prev = link("before", info.StartCursor)
	}
	if info.HasNextPage && info.EndCursor != nil {
		p.Next = link("after", info.EndCursor)
	}
	return p
}
