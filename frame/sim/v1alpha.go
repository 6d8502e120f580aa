package sim

import (
	"fmt"
	"net/http"
	"time"
)

// The v1alpha web API (seed 002): six reads under /v1alpha, signed like v1,
// answered from the same estate. Its account objects carry account_id,
// name and email; recent_sessions answers CSV.

func (s *Server) modelledV1Alpha() []route {
	return []route{
		{"GET", "/accounts", s.alphaAccounts},
		{"GET", "/accounts/{account_id}/sessions", s.alphaSessions},
		{"GET", "/accounts/{account_id}/recent_sessions", s.alphaRecentSessions},
		{"GET", "/accounts/{account_id}/usage", s.alphaUsage},
		{"GET", "/accounts/{account_id}/team_members", s.alphaTeamMembers},
		{"GET", "/accounts/{account_id}/applications", s.alphaApplications},
	}
}

func (s *Server) alphaAccounts(c *call) {
	out := make([]map[string]any, 0, len(s.accounts))
	for _, a := range s.accounts {
		out = append(out, map[string]any{"account_id": a.id, "name": a.name, "email": "admin@" + a.slug + ".example"})
	}
	c.json(http.StatusOK, out)
}

func (s *Server) alphaSessions(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	y, m, _ := c.now.Date()
	out := []map[string]any{}
	for i := 3; i >= 1; i-- {
		t := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).AddDate(0, -i, 0)
		out = append(out, map[string]any{
			"url":   fmt.Sprintf("https://session-reports.example/%s.%d.%d.csv.zip", a.slug, t.Year(), int(t.Month())),
			"month": int(t.Month()), "year": t.Year(),
		})
	}
	c.json(http.StatusOK, out)
}

func (s *Server) alphaRecentSessions(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	c.w.Header().Set("Content-Type", "text/csv")
	c.w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", a.slug+".recent_sessions.csv"))
	c.w.WriteHeader(http.StatusOK)
	fmt.Fprintf(c.w, "\"username\",\"application\",\"starttime\",\"session_duration\"\n\"user@%s.example\",\"Desktop\",%q,\"600\"\n", a.slug, formatTime(c.now.Add(-time.Hour)))
}

func (s *Server) alphaUsage(c *call) {
	a, p, ok := c.accountWithParams("account_id")
	if !ok {
		return
	}
	// "The date range filter parameters date_from and date_to are both required."
	for _, k := range []string{"date_from", "date_to"} {
		if _, err := time.Parse("2006-01-02", p[k]); err != nil {
			c.fail(http.StatusBadRequest, "%s must be a date yyyy-MM-dd, got %q", k, p[k])
			return
		}
	}
	out := []map[string]any{}
	for _, pl := range a.prod {
		out = append(out, map[string]any{"datacenter": "aws-va", "time": p["date_from"] + "T00:00:00", "hours_used": pl.el.MinServers, "instance_type": pl.instanceType, "server_type": "production"})
	}
	c.json(http.StatusOK, out)
}

func (s *Server) alphaTeamMembers(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	c.json(http.StatusOK, []map[string]any{
		{"name": "Store Admin", "email": "admin@" + a.slug + ".example", "status": "active"},
		{"name": "New Hire", "email": "new@" + a.slug + ".example", "status": "pending"},
	})
}

func (s *Server) alphaApplications(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	c.json(http.StatusOK, []map[string]any{
		{"icon": "https://assets.example/app_icons/notepad.png", "name": "Notepad"},
		{"icon": "https://assets.example/app_icons/chrome.png", "name": "Google Chrome"},
	})
}
