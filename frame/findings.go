package frame

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// API URL) with one credential. The docs are silent on several behaviours
// that reconciliation would like to rely on (which audit-trail kind a clone
// or publish writes, and whether the credential may read audit trails at
// all). A run may treat the absence of an audit entry as proof that a
// mutation was not sent only when these findings, for the same API URL and
// the same credential, confirm the kind; otherwise an unknown outcome stops
// for an operator's decision.
//
// Findings live in the state backend (a named document per API URL and
// credential), so that every runner sharing the backend reads what one
// operator's doctor confirmed. This type is a contract shared by `doctor`
// (which writes it) and the steps' reconciliation (which reads it). Change
// it with care.
type Findings struct {
	// APIURL is the base URL the findings were taken against; findings for
	// another URL are ignored.
	APIURL string `json:"api_url"`
	// CredentialID identifies the credential doctor used (CredentialID of
	// its client id), never the secret. Empty in findings from the old
	// local file, which named no credential.
	CredentialID string    `json:"credential_id,omitempty"`
	CheckedAt    time.Time `json:"checked_at"`
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

	// LegacyFile is set when these findings came from the old
	// <state-dir>/doctor.json rather than the backend: they name no
	// credential, and a run says so.
	LegacyFile string `json:"-"`
}

// FindingsFile is the name of the old findings file inside the state
// directory (before findings moved into the state backend). It is still
// read when the backend holds no findings for a URL and credential.
const FindingsFile = "doctor.json"

// Documents is where findings are kept: the state backend's named
// documents (state.Backend has these methods; frame does not import it).
type Documents interface {
	// Get reads a named document; (nil, nil) when there is none.
	Get(ctx context.Context, name string) ([]byte, error)
	// Put writes a named document, replacing it.
	Put(ctx context.Context, name string, body []byte) error
}

// CredentialID is the non-secret identity findings are keyed by: the
// first 16 hex digits of the SHA-256 of the client id. The client id is an
// identifier, not a secret (it travels in clear in every request's
// headers); hashing it only keeps it out of a shared database's rows. The
// secret, and anything derived from it, plays no part.
func CredentialID(clientID string) string {
	sum := sha256.Sum256([]byte("frameflow credential\x00" + strings.TrimSpace(clientID)))
	return "cred-" + hex.EncodeToString(sum[:8])
}

// CredentialID is the identity of this client's credential (see the
// function of that name).
func (c *Client) CredentialID() string { return CredentialID(c.clientID) }

// FindingsDocument is the name of the document holding the findings for
// apiURL and credentialID: one per estate and credential, a hash so that
// any URL makes a valid name.
func FindingsDocument(apiURL, credentialID string) string {
	sum := sha256.Sum256([]byte(normalizeURL(apiURL) + "\x00" + credentialID))
	return "doctor/findings-" + hex.EncodeToString(sum[:16]) + ".json"
}

// ConfirmedAuditKinds returns the confirmed kinds for an operation, or nil.
func (f *Findings) ConfirmedAuditKinds(op string) []string {
	if f == nil || !f.AuditTrailsReadable {
		return nil
	}
	return f.AuditKinds[op]
}

// LoadFindings returns the findings for apiURL and credentialID: those in
// docs, else those of the old <stateDir>/doctor.json when it was taken
// against the same URL (it names no credential; LegacyFile says it came
// from there). (nil, nil) when there are none. stateDir may be "".
func LoadFindings(ctx context.Context, docs Documents, stateDir, apiURL, credentialID string) (*Findings, error) {
	if docs != nil {
		name := FindingsDocument(apiURL, credentialID)
		b, err := docs.Get(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("reading doctor findings from the state backend: %w", err)
		}
		if b != nil {
			var f Findings
			if err := json.Unmarshal(b, &f); err != nil {
				return nil, fmt.Errorf("reading doctor findings %s: %w", name, err)
			}
			// The name is a hash: check what it claims to hold.
			if normalizeURL(f.APIURL) == normalizeURL(apiURL) && f.CredentialID == credentialID {
				return &f, nil
			}
		}
	}
	if stateDir == "" {
		return nil, nil
	}
	return loadLegacyFindings(stateDir, apiURL)
}

// loadLegacyFindings reads the old findings file, if it was taken against
// apiURL.
func loadLegacyFindings(stateDir, apiURL string) (*Findings, error) {
	path := filepath.Join(stateDir, FindingsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading doctor findings: %w", err)
	}
	var f Findings
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("reading doctor findings %s: %w", path, err)
	}
	if normalizeURL(f.APIURL) != normalizeURL(apiURL) {
		return nil, nil
	}
	f.LegacyFile = path
	return &f, nil
}

// SaveFindings stores f in docs under FindingsDocument(f.APIURL,
// f.CredentialID) and returns that name.
func SaveFindings(ctx context.Context, docs Documents, f *Findings) (string, error) {
	if f.APIURL == "" || f.CredentialID == "" {
		return "", errors.New("doctor findings need an API URL and a credential id")
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	name := FindingsDocument(f.APIURL, f.CredentialID)
	if err := docs.Put(ctx, name, append(b, '\n')); err != nil {
		return "", fmt.Errorf("writing doctor findings to the state backend: %w", err)
	}
	return name, nil
}

func normalizeURL(u string) string { return strings.TrimRight(strings.TrimSpace(u), "/") }
