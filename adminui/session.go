package adminui

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// cookieName is the session cookie. Its value is sealed (AES-256-GCM under
// the UI's session key), so the browser holds the tenant's API secret only
// in a form neither it nor scripts (HttpOnly) can read, and any instance
// holding the key serves any session; the only state on the server is
// which sessions were signed out (SignOuts).
const cookieName = "rafiki_admin_session"

// sessionLifetime is how long a sign-in lasts.
const sessionLifetime = 8 * time.Hour

// session is what the cookie holds. A visitor who has not signed in has a
// session too, with only the CSRF token, so that the login form is
// protected as every other form is. A signed-in session has a random id,
// by which it is signed out.
type session struct {
	ID       string `json:"i,omitempty"`
	TenantID string `json:"t,omitempty"`
	Secret   string `json:"s,omitempty"`
	Operator bool   `json:"o,omitempty"`
	CSRF     string `json:"c"`
	Expires  int64  `json:"e"`
}

func (s *session) signedIn() bool { return s.TenantID != "" && s.Secret != "" }

// sealer seals and opens session cookies.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("session key: %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(sess session) (string, error) {
	plain, err := json.Marshal(sess)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	// The cookie's name is the associated data: a sealed value moved to
	// another cookie does not open.
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(cookieName))), nil
}

func (s *sealer) open(value string, now time.Time) (session, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return session{}, false
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(cookieName))
	if err != nil {
		return session{}, false
	}
	var sess session
	if json.Unmarshal(plain, &sess) != nil || sess.CSRF == "" || now.Unix() >= sess.Expires {
		return session{}, false
	}
	return sess, true
}

// newToken is a random CSRF token or session id.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionOf reads the request's session, or starts an anonymous one (and
// sets its cookie) when there is none, it expired or it was signed out. A
// signed-in session without an id was sealed before sessions had one, and
// cannot be signed out: it is refused as signed out. When the sign-outs
// cannot be read, the request fails rather than serve a session that may
// have been signed out.
func (u *UI) sessionOf(w http.ResponseWriter, r *http.Request) (session, error) {
	if c, err := r.Cookie(cookieName); err == nil {
		if sess, ok := u.sealer.open(c.Value, time.Now()); ok {
			if !sess.signedIn() {
				return sess, nil
			}
			if sess.ID != "" {
				ended, err := u.signOuts.Ended(r.Context(), sess.ID)
				if err != nil {
					return session{}, fmt.Errorf("check the session's sign-out: %w", err)
				}
				if !ended {
					return sess, nil
				}
			}
		}
	}
	sess := session{CSRF: newToken(), Expires: time.Now().Add(sessionLifetime).Unix()}
	return sess, u.setSession(w, r, sess)
}

func (u *UI) setSession(w http.ResponseWriter, r *http.Request, sess session) error {
	value, err := u.sealer.seal(sess)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: u.secureCookies || r.TLS != nil, Expires: time.Unix(sess.Expires, 0),
	})
	return nil
}

// checkCSRF tells whether a posted form carries the session's token.
func checkCSRF(sess session, r *http.Request) bool {
	token := r.PostFormValue("csrf")
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) == 1
}
