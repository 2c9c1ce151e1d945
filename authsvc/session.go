package authsvc

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sessionCookie holds the nonce of the interaction the browser started,
// as Rafiki's session does: the finish must come from the browser that was
// sent to the identity provider. It is signed with COOKIE_KEY and carries
// its expiry, so it needs no server-side store; it lives as long as the
// interaction may (Rafiki's session lives a minute, shorter than most
// logins at an identity provider).
const sessionCookie = "sessionId"

func (s *Server) sessionMAC(nonce string, expires int64) string {
	m := hmac.New(sha256.New, s.cfg.CookieKey)
	m.Write([]byte("rafiki interaction session\x00" + nonce + "\x00" + strconv.FormatInt(expires, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) setSession(w http.ResponseWriter, nonce string, now time.Time) {
	lifetime := s.cfg.Policy.InteractionExpiry
	expires := now.Add(lifetime).Unix()
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: nonce + "." + strconv.FormatInt(expires, 10) + "." + s.sessionMAC(nonce, expires),
		Path: "/", MaxAge: int(lifetime / time.Second), HttpOnly: true, SameSite: s.cfg.CookieSameSite,
		Secure: s.cfg.Signatures.PublicBaseURL.Scheme == "https" || s.cfg.CookieSameSite == http.SameSiteNoneMode,
	})
}

// sessionNonce is the nonce of the browser's session, "" when it has none
// that this server signed and that has not expired.
func (s *Server) sessionNonce(r *http.Request, now time.Time) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return ""
	}
	expires, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || now.Unix() > expires {
		return ""
	}
	if subtle.ConstantTimeCompare([]byte(parts[2]), []byte(s.sessionMAC(parts[0], expires))) != 1 {
		return ""
	}
	return parts[0]
}
