package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/frameflow/frameflow/internal/regularfile"
)

// ComputeHash returns "sha256:<hex>" over the canonical JSON of the plan's
// workflow reference, inputs, offline flag, mutations, unchanged list and
// reads digest (see docs/plan-format.md). It does not set p.Hash.
func (p *Plan) ComputeHash() string {
	h := p.Content // a copy: the nil fixes below leave p as it is
	// nil and empty must hash alike: a plan built in memory and the same
	// plan read back from its file are the same plan.
	if h.Inputs == nil {
		h.Inputs = map[string]any{}
	}
	if h.Mutations == nil {
		h.Mutations = []Mutation{}
	}
	if h.Unchanged == nil {
		h.Unchanged = []Unchanged{}
	}
	// encoding/json writes struct fields in declaration order and map keys
	// sorted, so this encoding is canonical for a given plan.
	b, err := json.Marshal(h)
	if err != nil {
		// Values in a plan are normalized JSON values; this cannot happen
		// for a plan built by FromResult or Load. Hash the error text so a
		// broken plan never shares a hash with a sound one.
		b = []byte("unhashable plan: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// DigestReads digests the reads a plan depended on: keys name a read
// ("GET /accounts?name=Store"), values are the response bodies. Include only
// what decides the plan (the target set, current settings): a volatile field
// such as a timestamp would make every re-plan look stale.
func DigestReads(reads map[string][]byte) string {
	keys := make([]string, 0, len(reads))
	for k := range reads {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		// Length-prefixed, so that no two different sets digest alike.
		fmt.Fprintf(h, "%d:%s%d:", len(k), k, len(reads[k]))
		h.Write(reads[k])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Save writes the plan as indented JSON, with a freshly computed hash, to
// path with mode 0600 (a plan names the estate it changes). The file is
// replaced atomically: a reader never sees half a plan.
func (p *Plan) Save(path string) error {
	b, err := p.Encode()
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	buf := bytes.NewBuffer(b)
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	return nil
}

// Encode is the plan's file content (as Save writes it), with a freshly
// computed hash: for keeping a plan somewhere other than a file.
func (p *Plan) Encode() ([]byte, error) {
	if p.FormatVersion == 0 {
		p.FormatVersion = FormatVersion
	}
	p.Summarize()
	p.Hash = p.ComputeHash()
	var buf bytes.Buffer
	if err := encodeJSON(&buf, p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ErrTampered is returned (wrapped) by Load when a plan file's content does
// not match its recorded hash.
var ErrTampered = errors.New("plan file does not match its hash")

// Load reads a saved plan and verifies its hash: a plan edited after it was
// saved is refused, since the approval given to it is bound to the hash.
func Load(path string) (*Plan, error) {
	// Checked before opening: opening a named pipe blocks until a writer
	// comes (`apply FIFO` hung), and a device may stream for ever.
	b, err := regularfile.Read(path, -1)
	var notRegular *regularfile.NotRegularError
	if errors.As(err, &notRegular) {
		return nil, fmt.Errorf("load plan %s: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("load plan: %w", err)
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load plan %s: %w", path, err)
	}
	return p, nil
}

// Parse decodes and verifies a plan from its JSON form (see Load).
func Parse(b []byte) (*Plan, error) {
	var probe struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("not a frameflow plan (invalid JSON: %v)", err)
	}
	if probe.FormatVersion == nil {
		return nil, errors.New("not a frameflow plan (no format_version)")
	}
	if *probe.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("plan format_version %d is not supported (this frameflow reads version %d); re-run frameflow plan", *probe.FormatVersion, FormatVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers keep their literal text, as when the plan was hashed
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("invalid plan: %v", err)
	}
	if dec.More() {
		return nil, errors.New("invalid plan: trailing data after the plan")
	}
	if p.Hash == "" {
		return nil, fmt.Errorf("%w: the plan has no hash", ErrTampered)
	}
	if got := p.ComputeHash(); got != p.Hash {
		return nil, fmt.Errorf("%w (recorded %s, content hashes to %s): it was modified after it was saved; re-run frameflow plan", ErrTampered, p.Hash, got)
	}
	if p.Inputs == nil {
		p.Inputs = map[string]any{}
	}
	if p.Mutations == nil {
		p.Mutations = []Mutation{}
	}
	if p.Unchanged == nil {
		p.Unchanged = []Unchanged{}
	}
	// The summary is derived, not hashed: trust the mutations, not it.
	p.Summarize()
	return &p, nil
}

func encodeJSON(w *bytes.Buffer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}
