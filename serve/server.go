// Package serve is `frameflow serve`: the rollout as web pages. Accounts,
// playbooks, a plan form, the plan, one-click approve-and-apply bound to the
// plan's hash, a live view of the run (server-sent events) and the run
// history. It holds no plan, apply, resume or journal logic of its own: every
// state change goes through the Backend, which the CLI wires to the same
// application layer its commands use.
//
// Templates and assets are embedded: no build step, no CDN, works on an
// intranet without internet.
package serve

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/frameflow/frameflow/frame"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a Server.
type Options struct {
	// Addr is where the server listens; a loopback address needs no login.
	Addr string
	// PlaybooksDir holds the playbooks offered on the Playbooks page.
	PlaybooksDir string
	// Token, when set, is what a person types to log in (FRAMEFLOW_SERVE_TOKEN).
	// It is required when Addr is not a loopback address.
	Token string
	// RequireLogin asks for the token on a loopback address too (a shared
	// machine, where every local user reaches 127.0.0.1).
	RequireLogin bool
	// TrustedProxy is the address (IP or CIDR) of a reverse proxy whose
	// UserHeader names the person; requests from elsewhere never have it read.
	TrustedProxy string
	// UserHeader is the trusted proxy's user header (default X-Forwarded-User).
	UserHeader string
	// LocalUser names the person on a loopback server (the OS user).
	LocalUser string
	// Accounts reads the estate for the Accounts pages (a read-only client).
	Accounts func() (AccountReader, error)
	// Backend plans, applies, resumes and lists runs: the CLI's engine.
	Backend Backend
	// Store keeps the plans made in the page and which run applied each,
	// and locks an apply against other serve processes: the state
	// backend. Nil: this process's memory (tests).
	Store Store
	// Logger receives request errors; it must already redact secrets.
	Logger *slog.Logger
	// Redact scrubs known secrets from any text the server renders or logs.
	Redact func(string) string
	// Version is shown in the footer.
	Version string
	// SessionTTL bounds a login session (default 12h).
	SessionTTL time.Duration
	// PlanTTL bounds how long an unapplied plan may still be applied from
	// the page (default 1h); after it the page asks for a new plan and
	// the plan's document is deleted from the Store.
	PlanTTL time.Duration
}

// AccountReader is what the Accounts pages read: a read-only Frame client.
type AccountReader interface {
	ListAccounts(ctx context.Context, name, orgID string) ([]frame.Account, error)
	GetAccount(ctx context.Context, accountID string) (*frame.Account, error)
	ListPools(ctx context.Context, accountID string) ([]frame.Pool, error)
	GetPoolElasticity(ctx context.Context, poolID string) (*frame.Elasticity, error)
}

// Server is the web application.
type Server struct {
	o        Options
	pages    map[string]*template.Template
	auth     *authenticator
	handler  http.Handler
	plans    *planStore
	live     *liveRuns
	ctx      context.Context // runs started from the page live as long as the server
	cancel   context.CancelFunc
	runsWG   sync.WaitGroup
	loopback bool
}

// New checks the options and builds the server. Listening off loopback
// without a token is refused: the page can change every account.
func New(o Options) (*Server, error) {
	if o.Backend == nil {
		return nil, errors.New("serve: no backend")
	}
	if o.UserHeader == "" {
		o.UserHeader = "X-Forwarded-User"
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.PlanTTL <= 0 {
		o.PlanTTL = time.Hour
	}
	if o.Redact == nil {
		o.Redact = func(s string) string { return s }
	}
	if o.Store == nil {
		o.Store = newMemoryStore()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	loopback, err := isLoopbackAddr(o.Addr)
	if err != nil {
		return nil, err
	}
	if !loopback && o.Token == "" {
		return nil, fmt.Errorf("serve: listening on %s (not a loopback address) needs a login token: set FRAMEFLOW_SERVE_TOKEN", o.Addr)
	}
	if o.RequireLogin && o.Token == "" {
		return nil, errors.New("serve: --require-login needs a login token: set FRAMEFLOW_SERVE_TOKEN")
	}
	if o.Token != "" && len(o.Token) < 16 {
		return nil, errors.New("serve: FRAMEFLOW_SERVE_TOKEN must be at least 16 characters")
	}
	var proxy *netip.Prefix
	if o.TrustedProxy != "" {
		p, err := parsePrefix(o.TrustedProxy)
		if err != nil {
			return nil, fmt.Errorf("serve: --trusted-proxy %q: %v", o.TrustedProxy, err)
		}
		proxy = &p
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		o: o, pages: pages, loopback: loopback, ctx: ctx, cancel: cancel,
		auth:  newAuthenticator(o.Token, !loopback || o.RequireLogin, proxy, o.UserHeader, o.LocalUser, o.SessionTTL),
		plans: newPlanStore(o.PlanTTL, o.Store),
		live:  newLiveRuns(),
	}
	s.handler = s.routes()
	s.runsWG.Add(1)
	go func() {
		defer s.runsWG.Done()
		s.deleteExpiredPlans()
	}()
	return s, nil
}

// deleteExpiredPlans deletes, until Close, the plans made in the page that
// can no longer be applied, whichever server on the backend made them:
// once at start (what a stopped server left) and then four times per plan
// lifetime, at most every ten minutes. A failure is logged and retried at
// the next tick: an expired plan left a while longer is never applied.
func (s *Server) deleteExpiredPlans() {
	every := min(s.o.PlanTTL/4, 10*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		n, err := s.plans.deleteExpired(ctx)
		cancel()
		switch {
		case err != nil && s.ctx.Err() == nil:
			s.o.Logger.Warn("deleting expired plans", "error", s.o.Redact(err.Error()))
		case n > 0:
			s.o.Logger.Info("deleted expired plans", "count", n)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Handler is the whole application with its security layers.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops runs started from the page (they end interrupted, resumable)
// and waits for them to record it.
func (s *Server) Close() {
	s.cancel()
	s.runsWG.Wait()
}

// Serve serves on l until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.o.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Event streams never end by themselves: stopping the runs' context
	// first lets them close, then Shutdown finds idle connections.
	s.Close()
	s.live.closeAll()
	_ = srv.Shutdown(sctx)
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)

	app := http.NewServeMux()
	app.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/accounts", http.StatusSeeOther) })
	app.HandleFunc("GET /accounts", s.accountsPage)
	app.HandleFunc("GET /accounts/{id}", s.accountPage)
	app.HandleFunc("GET /playbooks", s.playbooksPage)
	app.HandleFunc("GET /playbooks/{name}", s.playbookPage)
	app.HandleFunc("POST /playbooks/{name}/plan", s.makePlan)
	app.HandleFunc("GET /plans/{id}", s.planPage)
	app.HandleFunc("POST /plans/{id}/apply", s.applyPlan)
	app.HandleFunc("GET /plans/{id}/plan.json", s.planJSON)
	app.HandleFunc("GET /runs", s.runsPage)
	app.HandleFunc("GET /runs/{id}", s.runPage)
	app.HandleFunc("GET /runs/{id}/events", s.runEvents)
	app.HandleFunc("POST /runs/{id}/resume", s.resumeRun)
	app.HandleFunc("POST /runs/{id}/decide", s.decideGate)
	mux.Handle("/", s.auth.require(app))

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusForbidden, "Refused: this request came from another site. Nothing was changed. Use the buttons of this page.")
	}))
	return securityHeaders(s.checkHost(cop.Handler(mux)))
}

// checkHost refuses requests whose Host is not this loopback server's own
// name. A loopback server has no login; without the check a web page the
// operator visits could rebind its own host name to 127.0.0.1 and read or
// drive it as same-origin (DNS rebinding).
func (s *Server) checkHost(next http.Handler) http.Handler {
	if !s.loopback {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if ip, err := netip.ParseAddr(host); (err == nil && ip.IsLoopback()) || strings.EqualFold(host, "localhost") {
			next.ServeHTTP(w, r)
			return
		}
		http.Error(w, "this server answers only to a loopback host name", http.StatusMisdirectedRequest)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Only our own embedded script and style; no inline code, no framing.
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		next.ServeHTTP(w, r)
	})
}

// isLoopbackAddr reports whether a listen address binds loopback only.
// An empty host ("":8088) binds every interface.
func isLoopbackAddr(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("serve: --addr %q: %v", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		// A host name may resolve to anything: not loopback.
		return false, nil
	}
	return ip.IsLoopback(), nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}
