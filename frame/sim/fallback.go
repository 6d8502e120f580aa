package sim

import (
	"net/http"
	"strings"

	"github.com/frameflow/frameflow/frame"
)

// Endpoints the simulator does not model answer with the example the docs
// show, read from the catalog as data. They still check what they can: that
// accounts, pools and organizations named in the path exist, and that
// required parameters are present.

func (s *Server) addCatalogRoutes(mux *http.ServeMux, taken map[string]bool) {
	for _, ep := range frame.Catalog() {
		path := strings.TrimSuffix(placeholder.ReplaceAllStringFunc(ep.Path, func(m string) string {
			if strings.HasPrefix(m, ":") {
				return "{" + m[1:] + "}"
			}
			return m
		}), "/")
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		key := shapeKey(ep.Method, path)
		if taken[key] {
			continue
		}
		taken[key] = true
		ep := ep
		registerQuietly(mux, strings.ToUpper(ep.Method)+" /v1"+path, func(w http.ResponseWriter, r *http.Request) {
			ri := info(r)
			s.mu.Lock()
			defer s.mu.Unlock()
			s.advance(ri.now)
			s.fallback(&call{s: s, w: w, r: r, now: ri.now, body: ri.body}, &ep)
		})
	}
}

// registerQuietly skips a catalog pattern the mux refuses (a conflict with
// another pattern, an odd placeholder): one unusual catalog entry must not
// take the whole simulator down.
func registerQuietly(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	defer func() { _ = recover() }()
	mux.HandleFunc(pattern, h)
}

func (s *Server) fallback(c *call, ep *frame.Endpoint) {
	params, err := c.params()
	if err != nil {
		c.fail(http.StatusBadRequest, "%v", err)
		return
	}
	missing := map[string]bool{}
	for _, p := range ep.Params {
		if p.In == frame.InPath {
			if !s.pathParamExists(c, ep.Path, p.Name) {
				return
			}
			continue
		}
		if p.Required && strings.TrimSpace(params[p.Name]) == "" {
			missing[p.Name] = true
		}
	}
	if len(missing) > 0 {
		c.fail(http.StatusBadRequest, "missing required parameter(s): %s", strings.Join(sortedParamNames(missing), ", "))
		return
	}
	status := ep.Status
	if status == 0 {
		status = http.StatusOK
	}
	switch {
	case len(ep.Example) > 0:
		writeRaw(c.w, status, ep.Example)
	case ep.Response == frame.RespList:
		writeRaw(c.w, status, []byte("[]\n"))
	default:
		writeRaw(c.w, status, []byte("{}\n"))
	}
}

// pathParamExists answers 404 for an account, pool or organization id the
// simulator does not know. Other ids (sessions, launchpads, backups) are
// accepted as they come.
func (s *Server) pathParamExists(c *call, template, name string) bool {
	v := c.path(name)
	lower := strings.ToLower(name)
	isAccountPath := strings.HasPrefix(template, "/accounts/") || strings.HasPrefix(template, "/account/")
	switch {
	case strings.HasSuffix(lower, "account_id") || (lower == "id" && isAccountPath):
		if _, ok := s.acctByID[v]; !ok {
			c.fail(http.StatusNotFound, "account %q not found", v)
			return false
		}
	case lower == "pool_id" || lower == "source_pool_id":
		if _, ok := s.pools[v]; !ok {
			c.fail(http.StatusNotFound, "pool %q not found", v)
			return false
		}
	case lower == "organization_id":
		for _, o := range s.orgs {
			if o.id == v {
				return true
			}
		}
		c.fail(http.StatusNotFound, "organization %q not found", v)
		return false
	}
	return true
}
