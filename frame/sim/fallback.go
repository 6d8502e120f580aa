package sim

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/frameflow/frameflow/frame"
)

// Endpoints the simulator does not model answer with the example the docs
// show, read from the catalog as data. They still check what they can: that
// accounts, pools and organizations named in the path exist, and that
// required parameters are present.

func (s *Server) addCatalogRoutes(mux *http.ServeMux, taken map[string]bool, catalog []frame.Endpoint) {
	for _, ep := range catalog {
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
		place := s.placements[placementKey("", ep.Method, path)]
		registerQuietly(mux, strings.ToUpper(ep.Method)+" /v1"+path, s.strict(place, func(c *call) { s.fallback(c, &ep) }))
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
	if ep.Response == frame.RespTask && s.answerWithTask(c, ep, status) {
		return
	}
	switch {
	case status == http.StatusNoContent:
		c.w.WriteHeader(status)
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

// answerWithTask answers a task endpoint the simulator does not model with
// a real task in the example's shape, so that a client waiting on the task
// id finds it. It reports false when the example has no task shape or the
// path names no account to own the task.
func (s *Server) answerWithTask(c *call, ep *frame.Endpoint, status int) bool {
	var a *account
	for _, p := range ep.Params {
		if p.In == frame.InPath && strings.HasSuffix(strings.ToLower(p.Name), "account_id") {
			a = s.acctByID[c.path(p.Name)]
		}
	}
	if a == nil || len(ep.Example) == 0 {
		return false
	}
	var shape map[string]json.RawMessage
	if json.Unmarshal(ep.Example, &shape) != nil {
		return false
	}
	var doc struct {
		Kind        string `json:"kind"`
		DisplayName string `json:"display_name"`
	}
	taskDoc, wrapped := shape["pending_request"]
	if !wrapped {
		if _, bare := shape["stage"]; !bare {
			return false
		}
		taskDoc = ep.Example
	}
	_ = json.Unmarshal(taskDoc, &doc)
	if doc.Kind == "" {
		doc.Kind = strings.ReplaceAll(ep.Name, ".", "_")
	}
	if doc.DisplayName == "" {
		doc.DisplayName = ep.Summary
	}
	t := s.newTask(c.now, doc.Kind, doc.DisplayName, a, nil, nil)
	if !wrapped {
		writeJSON(c.w, status, s.taskJSON(t, c.now))
		return true
	}
	out := map[string]any{}
	for k, v := range shape {
		out[k] = v
	}
	out["pending_request"] = s.taskJSON(t, c.now)
	if _, ok := shape["account"]; ok {
		out["account"] = accountJSON(a)
	}
	writeJSON(c.w, status, out)
	return true
}
