package plan

import (
	"net/url"
	"sort"
	"strings"
	"time"
)

// FormatVersion is the version of the JSON plan format this package writes
// and reads.
const FormatVersion = 1

// Sensitive replaces the value of a secret input, and any occurrence of a
// secret value inside a mutation.
const Sensitive = "(sensitive)"

// KnownAfterApply is how a value that exists only after apply (a task id, a
// read that depends on one, any read in an offline plan) appears in a plan.
// It is what engine.Unknown marshals to.
const KnownAfterApply = "(known after apply)"

// Body encodings of Mutation.BodyEncoding.
const (
	BodyJSON = "json" // Body is the JSON value sent
	BodyForm = "form" // Body is an object of strings (or lists of strings), sent as application/x-www-form-urlencoded
	BodyText = "text" // Body is a string sent as is
)

// Plan is the result of a dry run.
type Plan struct {
	// Content is what the hash covers; its fields are the plan's first
	// (JSON writes an embedded struct's fields in place).
	Content
	Summary   Summary   `json:"summary"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
}

// Content is the part of a plan its hash covers, in this field order.
// Summary is derived from it; CreatedAt and the hash itself are not part of
// it, so a field added here is hashed and one added to Plan is not.
type Content struct {
	FormatVersion int            `json:"format_version"`
	Workflow      WorkflowRef    `json:"workflow"`
	Inputs        map[string]any `json:"inputs"`
	Offline       bool           `json:"offline"`
	Mutations     []Mutation     `json:"mutations"`
	Unchanged     []Unchanged    `json:"unchanged"`
	// ReadsDigest, when the caller provides one, digests the reads the plan
	// depended on (see DigestReads); it is part of the hash.
	ReadsDigest string `json:"reads_digest,omitempty"`
	// Names maps ids to the names the plan read (accounts, pools), so that
	// renderings show names beside ids. It is hashed: a reviewer approves
	// what they read. Omitted when empty, so plans without names keep
	// their hash.
	Names map[string]string `json:"names,omitempty"`
}

// WorkflowRef names the workflow a plan was made from.
type WorkflowRef struct {
	Name     string `json:"name"`
	File     string `json:"file"`
	FileHash string `json:"file_hash"` // "sha256:<hex>" of the workflow file's bytes
}

// Mutation is one state-changing request the plan would send.
type Mutation struct {
	Step   string            `json:"step"`
	Item   string            `json:"item"`  // fan-out item label; "" outside a fan-out
	Index  int               `json:"index"` // fan-out item index; -1 outside a fan-out
	Key    string            `json:"key"`   // stable id within the run: step[item key]#ordinal (engine-made, opaque)
	Type   string            `json:"type"`
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  map[string]string `json:"query,omitempty"`
	// Headers are those the step sets itself (http.request), as sent,
	// credential-like values "(sensitive)"; Frame mutations have none.
	Headers      map[string]string `json:"headers,omitempty"`
	Body         any               `json:"body,omitempty"`
	BodyEncoding string            `json:"body_encoding,omitempty"`
	Resources    []string          `json:"resources,omitempty"`
	Change       *Change           `json:"change,omitempty"`
	// Result is what the step will get back, as far as it is known before
	// apply: usually a task whose id is "(known after apply)".
	Result      any  `json:"result"`
	Destructive bool `json:"destructive"`
	// Action is "create", "update" or "delete" when the step said
	// (engine.Mutation.Action); the symbol shown to people follows it.
	Action string `json:"action,omitempty"`
	// Details are the step's labelled facts for reviewers (a clone's source).
	Details []Detail `json:"details,omitempty"`
	// NoApproval: the playbook declared this step's changes need no
	// approval (approval: not_required); run sends them without asking.
	NoApproval bool `json:"no_approval,omitempty"`
	// Playbook is the called playbook the step is written in (uses:
	// ./x.yaml), relative to the workflow file's folder; empty for the
	// workflow's own steps. The step's id already starts with its caller's.
	Playbook string `json:"playbook,omitempty"`
}

// Detail is one labelled fact about a mutation.
type Detail struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Change is the difference a mutation makes where the step could read the
// current state.
type Change struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// Unchanged is a step (or fan-out item) that found the desired state already
// in place; it is not counted as a change.
type Unchanged struct {
	Step  string `json:"step"`
	Item  string `json:"item"`
	Index int    `json:"index"`
}

// Summary counts the plan's changes.
type Summary struct {
	Changes     int            `json:"changes"`
	ByType      map[string]int `json:"by_type"`
	Destructive int            `json:"destructive"`
	Unchanged   int            `json:"unchanged"`
}

// HasChanges reports whether the plan would send any mutation.
func (p *Plan) HasChanges() bool { return len(p.Mutations) > 0 }

// Summarize recomputes p.Summary from the mutations and unchanged list.
func (p *Plan) Summarize() {
	s := Summary{ByType: map[string]int{}, Changes: len(p.Mutations), Unchanged: len(p.Unchanged)}
	for _, m := range p.Mutations {
		s.ByType[m.Type]++
		if m.Destructive {
			s.Destructive++
		}
	}
	p.Summary = s
}

// typeOrder lists mutation types in order of first appearance, so that the
// summary line reads in the order the work happens.
func (p *Plan) typeOrder() []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range p.Mutations {
		if !seen[m.Type] {
			seen[m.Type] = true
			out = append(out, m.Type)
		}
	}
	return out
}

// Label is how a mutation is named to people: "rollout[Store-Reno].clone"
// for a step inside a fan-out group, "clone[Store-Reno]" for a fanned-out
// step, and the step id otherwise.
func (m *Mutation) Label() string { return label(m.Step, m.Item) }

// Label names an unchanged step like Mutation.Label.
func (u *Unchanged) Label() string { return label(u.Step, u.Item) }

func label(step, item string) string {
	if item == "" {
		return step
	}
	if group, rest, ok := strings.Cut(step, "."); ok {
		return group + "[" + item + "]." + rest
	}
	return step + "[" + item + "]"
}

// Target is the method and path with its query string: "POST /a/b?x=1".
func (m *Mutation) Target() string {
	return m.Method + " " + m.URL()
}

// URL is the path with its query string, keys sorted.
func (m *Mutation) URL() string {
	if len(m.Query) == 0 {
		return m.Path
	}
	return m.Path + "?" + encodeQuery(m.Query)
}

func encodeQuery(q map[string]string) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		// Keep the unknown marker readable rather than percent-encoded.
		b.WriteString(url.QueryEscape(k) + "=" + queryValue(q[k]))
	}
	return b.String()
}

func queryValue(v string) string {
	if v == KnownAfterApply || v == Sensitive {
		return v
	}
	return url.QueryEscape(v)
}

// MarkNoApproval sets NoApproval on the mutations of the steps noApproval
// names, and recomputes the summary and the hash.
func (p *Plan) MarkNoApproval(noApproval func(step string) bool) {
	for i := range p.Mutations {
		m := &p.Mutations[i]
		m.NoApproval = !m.Destructive && noApproval(m.Step)
	}
	p.Summarize()
	p.Hash = p.ComputeHash()
}

// MarkPlaybooks sets Playbook on every mutation from playbookOf (the
// called playbook a step is written in, "" for none), and recomputes the
// hash.
func (p *Plan) MarkPlaybooks(playbookOf func(step string) string) {
	for i := range p.Mutations {
		p.Mutations[i].Playbook = playbookOf(p.Mutations[i].Step)
	}
	p.Hash = p.ComputeHash()
}

// NeedsApproval counts the changes a person must approve before run sends
// them.
func (p *Plan) NeedsApproval() int {
	n := 0
	for i := range p.Mutations {
		if !p.Mutations[i].NoApproval {
			n++
		}
	}
	return n
}
