package serve

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

const sessionCookie = "frameflow_session"

// authenticator decides who is asking. On loopback everyone is the local
// user. Elsewhere a person logs in with the token and gets a session cookie
// (HttpOnly, SameSite=Strict); the token itself is never stored in a cookie.
// A trusted reverse proxy may name the person in a header; that name is read
// only from the proxy's own address.
type authenticator struct {
	tokenSum   [32]byte
	required   bool
	proxy      *netip.Prefix
	userHeader string
	localUser  string
	ttl        time.Duration

	mu       sync.Mutex
	sessions map[string]session

	// limiter holds wrong tokens to a few a minute per address and one a
	// second in all (ratelimit.go).
	limiter *loginLimiter
	// wrongTokenDelay is how long a wrong token's answer takes.
	wrongTokenDelay time.Duration
}

type session struct {
	user    string
	expires time.Time
}

type userKey struct{}

func newAuthenticator(token string, required bool, proxy *netip.Prefix, header, local string, ttl time.Duration) *authenticator {
	if local == "" {
		local = "local user"
	}
	return &authenticator{tokenSum: sha256.Sum256([]byte(token)), required: required, proxy: proxy,
		userHeader: header, localUser: local, ttl: ttl, sessions: map[string]session{},
		limiter: newLoginLimiter(), wrongTokenDelay: time.Second}
}

// tokenOK compares in constant time; hashing first makes the comparison's
// time independent of the token's length too.
func (a *authenticator) tokenOK(given string) bool {
	sum := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
}

// fromProxy reports whether r came straight from the trusted proxy.
func (a *authenticator) fromProxy(r *http.Request) bool {
	if a.proxy == nil {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && a.proxy.Contains(ip.Unmap())
}

// proxyUser is the name the trusted proxy gives, or "".
func (a *authenticator) proxyUser(r *http.Request) string {
	if !a.fromProxy(r) {
		return ""
	}
	return cleanName(r.Header.Get(a.userHeader))
}

// user is who is asking, or "" when a login is needed.
func (a *authenticator) user(r *http.Request) string {
	if !a.required {
		return a.localUser + " (loopback)"
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[c.Value]
	if !ok {
		return ""
	}
	if time.Now().After(s.expires) {
		delete(a.sessions, c.Value)
		return ""
	}
	return s.user
}

// require sends a person without a session to the login page; an event
// stream or a POST gets a plain 401.
func (a *authenticator) require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := a.user(r)
		if u == "" {
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/events") {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// newSession starts a session for user and returns its cookie.
func (a *authenticator) newSession(user string, secure bool) *http.Cookie {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	id := base64.RawURLEncoding.EncodeToString(b)
	a.mu.Lock()
	now := time.Now()
	for k, s := range a.sessions { // expired sessions go when a new one comes
		if now.After(s.expires) {
			delete(a.sessions, k)
		}
	}
	a.sessions[id] = session{user: user, expires: now.Add(a.ttl)}
	a.mu.Unlock()
	return &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(a.ttl.Seconds())}
}

func (a *authenticator) endSession(r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
}

func userOf(r *http.Request) string {
	u, _ := r.Context().Value(userKey{}).(string)
	return u
}

// cleanName keeps a user name printable and short: it goes into journals
// and pages.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if len([]rune(s)) > 80 {
		s = string([]rune(s)[:80])
	}
	return s
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/login") {
		return "/accounts"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if !s.auth.required {
		http.Redirect(w, r, "/accounts", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", loginData{Next: safeNext(r.URL.Query().Get("next")), ProxyUser: s.auth.proxyUser(r)})
}

type loginData struct {
	Next      string
	Name      string
	ProxyUser string
	Error     string
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.auth.required {
		http.Redirect(w, r, "/accounts", http.StatusSeeOther)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "The login form could not be read.")
		return
	}
	d := loginData{Next: safeNext(r.PostForm.Get("next")), Name: cleanName(r.PostForm.Get("name")), ProxyUser: s.auth.proxyUser(r)}
	client := s.auth.clientAddr(r)
	// Refused before the token is even compared: a guesser learns nothing
	// while its bucket is empty. The log names the address, never the
	// token typed.
	if wait := s.auth.limiter.wait(client); wait > 0 {
		secs := retryAfter(wait)
		s.o.Logger.Warn("login refused: too many wrong tokens", "client", client, "retry_after_s", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		d.Error = fmt.Sprintf("Too many wrong tokens from your address (or from everyone): try again in %d s.", secs)
		s.render(w, r, http.StatusTooManyRequests, "login", d)
		return
	}
	if !s.auth.tokenOK(r.PostForm.Get("token")) {
		s.auth.limiter.failed(client)
		s.o.Logger.Warn("login: wrong token", "client", client)
		// A wrong token also costs a second: guessing one is slow even
		// within the burst.
		time.Sleep(s.auth.wrongTokenDelay)
		d.Error = "Wrong token."
		s.render(w, r, http.StatusUnauthorized, "login", d)
		return
	}
	user := d.ProxyUser
	switch {
	case user != "":
		user += " (via proxy)"
	case d.Name != "":
		user = d.Name + " (token login)"
	default:
		d.Error = "Say who you are: approvals are recorded with your name."
		s.render(w, r, http.StatusBadRequest, "login", d)
		return
	}
	http.SetCookie(w, s.auth.newSession(user, r.TLS != nil || (s.auth.fromProxy(r) && r.Header.Get("X-Forwarded-Proto") == "https")))
	s.o.Logger.Info("login", "user", user)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.auth.endSession(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
