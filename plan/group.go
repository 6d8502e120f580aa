package plan

import (
	"fmt"
	"regexp"
	"strings"
)

// Grouped is a plan arranged for people: the same change made to many
// targets of a fan-out (clone the QA sandbox to 500 stores) is one group
// listing its targets, and unchanged steps are counted per step. It is data,
// so that the text and Markdown renderers and a web page share it.
type Grouped struct {
	Groups    []Group          `json:"groups"`
	Unchanged []UnchangedGroup `json:"unchanged"`
}

// Group is one kind of change made to one or more targets: every member
// has the same step, type, request shape (the path with its targets'
// ids as {account}, {pool}), body, change and details.
type Group struct {
	Step        string   `json:"step"`
	Type        string   `json:"type"`
	Symbol      string   `json:"symbol"` // + create, ~ update, - delete, ! destructive
	Verb        string   `json:"verb"`   // create, update, delete, replace
	Destructive bool     `json:"destructive"`
	NoApproval  bool     `json:"no_approval,omitempty"` // declared approval: not_required
	Playbook    string   `json:"playbook,omitempty"`    // the called playbook holding the step (uses: ./x.yaml)
	Method      string   `json:"method"`
	Path        string   `json:"path"`              // the pattern; ids that are no target are shortened and named
	Headers     string   `json:"headers,omitempty"` // "Name: value, ..." (http.request)
	Body        string   `json:"body,omitempty"`
	Change      string   `json:"change,omitempty"` // labelled: "min 0 → 1, buffer 0 → 1, max 1 → 5"
	Details     []Detail `json:"details,omitempty"`
	Members     []Member `json:"members"`
}

// Member is one target of a group.
type Member struct {
	Item   string `json:"item"`   // the fan-out item label ("Store-Reno"); "" outside a fan-out
	Target string `json:"target"` // what is changed, named: "account Store-Reno (128ab0b8)"
	Key    string `json:"key"`    // the mutation's key, to find it in the plan file
}

// UnchangedGroup counts the executions of one step that found the desired
// state in place.
type UnchangedGroup struct {
	Step  string   `json:"step"`
	Items []string `json:"items"`
}

// Title is a group's one-line name: "rollout.clone (sandbox.clone) × 8".
func (g *Group) Title() string {
	t := g.Step + " (" + g.Type + ")"
	if len(g.Members) > 1 || g.Members[0].Item != "" {
		t += fmt.Sprintf(" × %d", len(g.Members))
	}
	return t
}

// Label is a member's name in a list: its item, with the target when the
// target says more than the item.
func (m *Member) Label() string {
	switch {
	case m.Item == "":
		return m.Target
	case m.Target == "":
		return m.Item
	}
	return m.Item + ": " + m.Target
}

// Grouped arranges p for people. Groups keep the plan's order (the first
// member's position); members keep item order.
func (p *Plan) Grouped() *Grouped {
	out := &Grouped{Groups: []Group{}, Unchanged: []UnchangedGroup{}}
	index := map[string]int{}
	for i := range p.Mutations {
		m := &p.Mutations[i]
		g, member := groupOf(p, m)
		k := groupKey(&g)
		at, ok := index[k]
		if !ok {
			at = len(out.Groups)
			index[k] = at
			out.Groups = append(out.Groups, g)
		}
		out.Groups[at].Members = append(out.Groups[at].Members, member)
	}
	steps := map[string]int{}
	for _, u := range p.Unchanged {
		at, ok := steps[u.Step]
		if !ok {
			at = len(out.Unchanged)
			steps[u.Step] = at
			out.Unchanged = append(out.Unchanged, UnchangedGroup{Step: u.Step, Items: []string{}})
		}
		out.Unchanged[at].Items = append(out.Unchanged[at].Items, u.Item)
	}
	return out
}

func groupKey(g *Group) string {
	var b strings.Builder
	if g.NoApproval {
		b.WriteString("no approval\x00")
	}
	for _, s := range []string{g.Step, g.Type, g.Symbol, g.Method, g.Path, g.Headers, g.Body, g.Change, g.Playbook} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	for _, d := range g.Details {
		b.WriteString(d.Label + "\x01" + d.Value + "\x00")
	}
	return b.String()
}

// groupOf is m's group (without members) and m as a member. The targets are
// the ids of m's resources ("account:<id>"): in the path they become
// {account}, and the member names them.
func groupOf(p *Plan, m *Mutation) (Group, Member) {
	targets := map[string]string{} // id → kind
	var order []string
	for _, r := range m.Resources {
		kind, id, ok := strings.Cut(r, ":")
		if !ok || id == "" || id == KnownAfterApply {
			continue
		}
		if _, seen := targets[id]; !seen {
			targets[id] = kind
			order = append(order, id)
		}
	}
	g := Group{
		Step:        m.Step,
		Type:        m.Type,
		Symbol:      action(m),
		Verb:        verb(m),
		Destructive: m.Destructive,
		NoApproval:  m.NoApproval,
		Playbook:    m.Playbook,
		Method:      m.Method,
	}
	segs := strings.Split(m.Path, "/")
	for i, s := range segs {
		if kind, ok := targets[s]; ok {
			segs[i] = "{" + kind + "}"
		} else {
			segs[i] = ShortID(s)
		}
	}
	g.Path = strings.Join(segs, "/")
	if len(m.Query) > 0 {
		g.Path += "?" + encodeQuery(m.Query)
	}
	g.Headers = m.HeadersString()
	g.Body = m.BodyString()
	if m.Change != nil {
		g.Change = labelledChange(m.Change)
	}
	for _, d := range m.Details {
		g.Details = append(g.Details, Detail{Label: d.Label, Value: p.Named(d.Value)})
	}

	member := Member{Item: m.Item, Key: m.Key}
	var parts []string
	for _, id := range order {
		name := p.Names[id]
		switch {
		case name != "" && name == m.Item:
			parts = append(parts, targets[id]+" "+ShortID(id))
		case name != "":
			parts = append(parts, targets[id]+" "+name+" ("+ShortID(id)+")")
		default:
			parts = append(parts, targets[id]+" "+ShortID(id))
		}
	}
	member.Target = strings.Join(parts, ", ")
	return g, member
}

// verb is what a mutation does, in words.
func verb(m *Mutation) string {
	switch {
	case m.Action == "delete":
		return "delete"
	case m.Destructive:
		return "replace"
	case m.Action == "update", m.Action == "" && m.Change != nil && m.Change.Before != nil:
		return "update"
	}
	return "create"
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ShortID shortens a UUID to its first 8 hex digits (the plan file keeps
// it whole); other strings are returned as they are.
func ShortID(s string) string {
	if uuidRE.MatchString(s) {
		return s[:8]
	}
	return s
}

// Named is an id with its name when the plan knows it: "QA (3f2a1b4c)".
// Other values are returned as they are.
func (p *Plan) Named(id string) string {
	if n, ok := p.Names[id]; ok && n != "" {
		return n + " (" + ShortID(id) + ")"
	}
	return ShortID(id)
}

// labelledChange renders a change setting by setting when both sides are
// objects: "min 0 → 1, buffer 0 → 1, max 1 → 5" (settings that stay the
// same are left out); otherwise "before → after".
func labelledChange(c *Change) string {
	after, ok := c.After.(map[string]any)
	if !ok {
		return formatChange(c)
	}
	before, _ := c.Before.(map[string]any)
	if c.Before != nil && before == nil && c.Before != KnownAfterApply {
		return formatChange(c)
	}
	var parts []string
	for _, k := range settingOrder(after) {
		var b any = KnownAfterApply
		if before != nil {
			var had bool
			if b, had = before[k]; !had {
				b = nil
			}
		}
		a := after[k]
		if before != nil && sameValue(a, b) {
			continue
		}
		parts = append(parts, settingLabel(k)+" "+formatValue(b)+" → "+formatValue(a))
	}
	if len(parts) == 0 {
		return "no setting changes"
	}
	return strings.Join(parts, ", ")
}

// settingOrder lists an object's keys, elasticity settings in the order the
// Frame console shows them, the rest sorted.
func settingOrder(obj map[string]any) []string {
	var out []string
	for _, k := range []string{"min_servers", "buffer_servers", "max_servers"} {
		if _, ok := obj[k]; ok {
			out = append(out, k)
		}
	}
	for _, k := range sortedKeys(obj) {
		switch k {
		case "min_servers", "buffer_servers", "max_servers":
			continue
		}
		out = append(out, k)
	}
	return out
}

func settingLabel(k string) string {
	switch k {
	case "min_servers":
		return "min"
	case "buffer_servers":
		return "buffer"
	case "max_servers":
		return "max"
	}
	return k
}
