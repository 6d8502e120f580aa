package frame

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Findings is what `frameflow doctor` confirmed about one Frame estate (one
// API URL). The docs are silent on several behaviours that reconciliation
// would like to rely on (which audit-trail kind a clone or publish writes, and
// whether the credential may read audit trails at all). A run may treat the
// absence of an audit entry as proof that a mutation was not sent only when
// these findings, for the same API URL, confirm the kind; otherwise an
// unknown outcome stops for an operator's decision.
//
// This file is a contract shared by `doctor` (which writes it) and the steps'
// reconciliation (which reads it). Change it with care.
type Findings struct {
	// APIURL is the base URL the findings were taken against; findings for
	// another URL are ignored.
	APIURL    string    `json:"api_url"`
	CheckedAt time.Time `json:"checked_at"`
	// AuditTrailsReadable is true when GET /accounts/:id/audit-trails
	// answered 2xx for this credential.
	AuditTrailsReadable bool `json:"audit_trails_readable"`
	// AuditKinds maps an operation ("clone", "publish") to the exact
	// audit-trail kinds doctor saw that operation produce on this estate.
	// An operation absent from the map is unconfirmed.
	AuditKinds map[string][]string `json:"audit_kinds,omitempty"`
	// Notes are human-readable lines doctor printed, kept for `runs show`
	// and the plan.
	Notes []string `json:"notes,omitempty"`
}

// FindingsFile is the name of the findings file inside the state directory.
const FindingsFile = "doctor.json"

// ConfirmedAuditKinds returns the confirmed kinds for an operation, or nil.
func (f *Findings) ConfirmedAuditKinds(op string) []string {
	if f == nil || !f.AuditTrailsReadable {
		return nil
	}
	return f.AuditKinds[op]
}

// LoadFindings reads the findings for apiURL from stateDir. It returns
// (nil, nil) when there are none, or when they were taken against another URL.
func LoadFindings(stateDir, apiURL string) (*Findings, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, FindingsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading doctor findings: %w", err)
	}
	var f Findings
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("reading doctor findings %s: %w", filepath.Join(stateDir, FindingsFile), err)
	}
	if normalizeURL(f.APIURL) != normalizeURL(apiURL) {
		return nil, nil
	}
	return &f, nil
}

// SaveFindings writes f into stateDir (mode 0600, replaced atomically).
func SaveFindings(stateDir string, f *Findings) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(stateDir, ".doctor-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(stateDir, FindingsFile))
}

func normalizeURL(u string) string { return strings.TrimRight(strings.TrimSpace(u), "/") }
