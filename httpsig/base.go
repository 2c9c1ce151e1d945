package httpsig

import (
	"net/http"
	"net/url"
	"strings"
)

const label = "sig1"

// The components the profile knows, and whether each is an HTTP field.
var knownComponents = map[string]bool{
	"@method":        false,
	"@target-uri":    false,
	"authorization":  true,
	"content-digest": true,
	"content-length": true,
	"content-type":   true,
}

var bodyComponents = []string{"content-digest", "content-length", "content-type"}

// fieldValue is the value of a singleton header as RFC 9421 section 2.1
// covers it; a header sent twice is refused, as which line was meant is
// not clear.
func fieldValue(h http.Header, name string) (string, bool, error) {
	vs := h.Values(name)
	switch len(vs) {
	case 0:
		return "", false, nil
	case 1:
		return strings.Trim(vs[0], " \t"), true, nil
	}
	return "", true, refuse(ReasonMalformed, "header %s is sent more than once", name)
}

// targetURI is the request's URL as the client addressed it: scheme and
// host as received (or those of public, when a proxy stands between the
// client and us, with public's path as a prefix the proxy removed), then
// the request target exactly as it came on the wire.
func targetURI(req *http.Request, public *url.URL) string {
	scheme, host, prefix := req.URL.Scheme, req.URL.Host, ""
	if req.Host != "" {
		host = req.Host
	}
	if scheme == "" {
		scheme = "http"
		if req.TLS != nil {
			scheme = "https"
		}
	}
	if public != nil {
		scheme, host, prefix = public.Scheme, public.Host, strings.TrimSuffix(public.EscapedPath(), "/")
	}
	target := req.RequestURI
	if !strings.HasPrefix(target, "/") {
		target = req.URL.RequestURI()
	}
	return scheme + "://" + host + prefix + target
}

// signatureBase is the text RFC 9421 section 2.5 signs, for the components
// and the serialised parameters given.
func signatureBase(req *http.Request, public *url.URL, components []string, params string) (string, error) {
	var b strings.Builder
	for _, c := range components {
		var v string
		switch c {
		case "@method":
			v = req.Method
		case "@target-uri":
			v = targetURI(req, public)
		default:
			val, ok, err := fieldValue(req.Header, c)
			if err != nil {
				return "", err
			}
			if !ok {
				return "", refuse(ReasonMissingComponent, "covered header %s is not in the request", c)
			}
			v = val
		}
		if strings.ContainsAny(v, "\r\n") {
			return "", refuse(ReasonMalformed, "component %s holds a line break", c)
		}
		b.WriteString(`"` + c + `": ` + v + "\n")
	}
	b.WriteString(`"@signature-params": ` + params)
	return b.String(), nil
}
