package sim

import (
	"bytes"
	"crypto/sha1"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario seeds the simulator: organizations with their accounts, the
// cloud services known to account creation, and how long each kind of task
// takes. See docs/simulator.md for the YAML format.
type Scenario struct {
	Organizations []OrganizationSpec `yaml:"organizations" json:"organizations"`
	// TaskDurations maps a task kind (clone_pool, publish_sandbox_to_production,
	// update_pool_elasticity_settings, power_on, power_off,
	// update_persistent_desktop_settings, create_account) or "default" to how
	// long such a task runs.
	TaskDurations map[string]time.Duration `yaml:"task_durations" json:"task_durations,omitempty"`
	// CloudServices maps a cloud_service_external_id (POST /accounts) to a
	// cloud provider. The provider names themselves ("aws", "gcp", ...) are
	// always accepted too.
	CloudServices map[string]string `yaml:"cloud_services" json:"cloud_services,omitempty"`
	// TaskStages renames the stages tasks report (not_started, in_progress,
	// done, failed) to what another server might say: only not_started and
	// done are documented, so a failure may arrive as "error", "cancelled"
	// or "canceled", and the prose writes "DONE". Unset stages keep their
	// documented names.
	TaskStages map[string]string `yaml:"task_stages" json:"task_stages,omitempty"`
	// AuditTrails: which audit kinds clones and publishes write, and whether
	// audit trails may be read (audit.go).
	AuditTrails *AuditTrailSpec `yaml:"audit_trails" json:"audit_trails,omitempty"`
}

// OrganizationSpec is one organization of the scenario.
type OrganizationSpec struct {
	ID       string         `yaml:"id" json:"id,omitempty"`
	Name     string         `yaml:"name" json:"name"`
	Accounts []AccountSpec  `yaml:"accounts" json:"accounts,omitempty"`
	Generate []GenerateSpec `yaml:"generate" json:"generate,omitempty"`
}

// GenerateSpec creates Count accounts named Prefix+number (zero padded),
// each shaped like the inline account template. It is how big estates are
// described without listing 2,000 stores.
type GenerateSpec struct {
	Prefix      string `yaml:"prefix" json:"prefix"`
	Count       int    `yaml:"count" json:"count"`
	Start       int    `yaml:"start" json:"start,omitempty"` // first number, default 1
	AccountSpec `yaml:",inline" json:",inline"`
}

// AccountSpec describes one account: in a scenario, in AddAccount and in
// POST /_sim/accounts.
type AccountSpec struct {
	ID   string `yaml:"id" json:"id,omitempty"` // "" -> derived from the name
	Name string `yaml:"name" json:"name"`
	// Organization is the organization's id or name (AddAccount only; in a
	// scenario the enclosing organization is used). "" -> the first one.
	Organization  string         `yaml:"organization" json:"organization,omitempty"`
	CloudProvider string         `yaml:"cloud_provider" json:"cloud_provider,omitempty"` // "" -> aws
	Active        *bool          `yaml:"active" json:"active,omitempty"`                 // nil -> true
	LastPublish   string         `yaml:"last_publish" json:"last_publish,omitempty"`     // RFC 3339 or empty (never published)
	Sandbox       SandboxSpec    `yaml:"sandbox" json:"sandbox"`
	Production    ProductionSpec `yaml:"production" json:"production"`
}

// SandboxSpec is an account's sandbox.
type SandboxSpec struct {
	ImageVersion string `yaml:"image_version" json:"image_version,omitempty"`
	Running      bool   `yaml:"running" json:"running,omitempty"`
}

// ProductionSpec is an account's production side: the published image and
// its pools. No pools -> one pool "Production" at 0/0/1.
type ProductionSpec struct {
	ImageVersion string     `yaml:"image_version" json:"image_version,omitempty"`
	Pools        []PoolSpec `yaml:"pools" json:"pools,omitempty"`
}

// PoolSpec is one production pool.
type PoolSpec struct {
	ID           string         `yaml:"id" json:"id,omitempty"` // "" -> derived
	Name         string         `yaml:"name" json:"name"`
	InstanceType string         `yaml:"instance_type" json:"instance_type,omitempty"`
	Elasticity   ElasticitySpec `yaml:"elasticity" json:"elasticity"`
}

// ElasticitySpec is min/buffer/max servers. In YAML it is either a mapping
// (min_servers, buffer_servers, max_servers) or the short string "0/0/1".
type ElasticitySpec struct {
	MinServers    int `yaml:"min_servers" json:"min_servers"`
	BufferServers int `yaml:"buffer_servers" json:"buffer_servers"`
	MaxServers    int `yaml:"max_servers" json:"max_servers"`
}

// UnmarshalYAML accepts "min/buffer/max" as well as the mapping.
func (e *ElasticitySpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		parts := strings.Split(n.Value, "/")
		if len(parts) != 3 {
			return fmt.Errorf("line %d: elasticity %q: want \"min/buffer/max\", e.g. \"0/0/1\"", n.Line, n.Value)
		}
		var v [3]int
		for i, p := range parts {
			x, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return fmt.Errorf("line %d: elasticity %q: %q is not an integer", n.Line, n.Value, p)
			}
			v[i] = x
		}
		*e = ElasticitySpec{v[0], v[1], v[2]}
		return nil
	}
	type plain ElasticitySpec // no UnmarshalYAML: avoids recursion
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*e = ElasticitySpec(p)
	return nil
}

// MaxServersPerPool is the documented cap of max_servers for one pool.
const MaxServersPerPool = 1000

// maxGenerated bounds generators so that a typo cannot exhaust memory.
const maxGenerated = 100_000

// Task kinds, as the Admin API names them.
const (
	KindClone      = "clone_pool"
	KindPublish    = "publish_sandbox_to_production"
	KindElasticity = "update_pool_elasticity_settings"
	KindPowerOn    = "power_on"
	KindPowerOff   = "power_off"
	KindReboot     = "reboot"
	KindPersistent = "update_persistent_desktop_settings"
	KindCreate     = "create_account"
)

var knownKinds = map[string]bool{
	KindClone: true, KindPublish: true, KindElasticity: true, KindPowerOn: true,
	KindPowerOff: true, KindReboot: true, KindPersistent: true, KindCreate: true,
	"default": true,
}

//go:embed default.yaml
var defaultScenarioYAML []byte

// DefaultScenario is the retail story: Mark's Hardware with a QA account
// whose sandbox holds a newer image than production, eight active AWS
// stores, two GCP stores not yet opened and a GCP training account.
func DefaultScenario() *Scenario {
	s, err := LoadScenario(defaultScenarioYAML)
	if err != nil {
		panic("sim: embedded default.yaml: " + err.Error()) // checked by tests
	}
	return s
}

// RetailScenario is QA plus stores active Store-NNNN accounts on QA's
// provider, for tests and benchmarks of large estates.
func RetailScenario(stores int) *Scenario {
	if stores < 0 {
		stores = 0
	}
	yes := true
	return &Scenario{
		Organizations: []OrganizationSpec{{
			Name: "Mark's Hardware",
			Accounts: []AccountSpec{{
				Name: "QA", CloudProvider: "aws", Active: &yes,
				Sandbox: SandboxSpec{ImageVersion: "cs-tool-2.4.0", Running: true},
				Production: ProductionSpec{ImageVersion: "cs-tool-2.3.1", Pools: []PoolSpec{
					{Name: "Air 8GB", InstanceType: "t3.large", Elasticity: ElasticitySpec{1, 1, 5}},
				}},
			}},
			Generate: []GenerateSpec{{
				Prefix: "Store-", Count: stores,
				AccountSpec: AccountSpec{
					CloudProvider: "aws", Active: &yes,
					Sandbox:    SandboxSpec{ImageVersion: "cs-tool-2.3.1"},
					Production: ProductionSpec{ImageVersion: "cs-tool-2.3.1"},
				},
			}},
		}},
		TaskDurations: map[string]time.Duration{"default": time.Second},
	}
}

// LoadScenario parses and checks a scenario. Unknown keys are errors, so a
// misspelt field does not silently fall back to a default.
func LoadScenario(data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("scenario: empty document")
		}
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if _, err := expand(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// expanded is a checked scenario with generators unrolled and ids filled.
type expanded struct {
	orgs []expandedOrg
}

type expandedOrg struct {
	id, name string
	accounts []AccountSpec // ids, names, providers and pools all filled
}

var (
	safeID       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	providerName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
)

// deriveID makes a stable UUID-shaped id (name-based, like UUID v5) so that
// scenarios and saved plans see the same ids run after run.
func deriveID(parts ...string) string {
	h := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func expand(s *Scenario) (*expanded, error) {
	if len(s.Organizations) == 0 {
		return nil, errors.New("scenario: no organizations: list at least one under \"organizations\"")
	}
	if err := checkTaskSettings(s); err != nil {
		return nil, err
	}
	out := &expanded{}
	ids := map[string]string{}   // id -> what uses it
	names := map[string]string{} // lower-case account name -> where
	total := 0
	for oi, o := range s.Organizations {
		eo, err := expandOrg(o, fmt.Sprintf("organizations[%d]", oi), ids, names, &total)
		if err != nil {
			return nil, err
		}
		out.orgs = append(out.orgs, eo)
	}
	return out, nil
}

// checkTaskSettings checks the scenario's task durations, stage names and
// cloud services.
func checkTaskSettings(s *Scenario) error {
	for kind, d := range s.TaskDurations {
		if !knownKinds[kind] {
			return fmt.Errorf("scenario: task_durations: unknown task kind %q (known: %s)", kind, strings.Join(sortedKeys(knownKinds), ", "))
		}
		if d < 0 {
			return fmt.Errorf("scenario: task_durations.%s: negative duration %s", kind, d)
		}
	}
	for stage, name := range s.TaskStages {
		switch stage {
		case StageNotStarted, StageInProgress, StageDone, StageFailed:
		default:
			return fmt.Errorf("scenario: task_stages: unknown stage %q (known: not_started, in_progress, done, failed)", stage)
		}
		if strings.TrimSpace(name) == "" || strings.ContainsAny(name, "\x00\r\n") {
			return fmt.Errorf("scenario: task_stages.%s: want a stage name, got %q", stage, name)
		}
	}
	for id, p := range s.CloudServices {
		if !safeID.MatchString(id) {
			return fmt.Errorf("scenario: cloud_services: id %q has unsafe characters", id)
		}
		if !providerName.MatchString(p) {
			return fmt.Errorf("scenario: cloud_services.%s: provider %q must be a lowercase name such as aws, gcp or azure", id, p)
		}
	}
	return nil
}

// expandOrg is one organization with its listed and generated accounts,
// each checked and filled in; total counts generated accounts so far.
func expandOrg(o OrganizationSpec, where string, ids, names map[string]string, total *int) (expandedOrg, error) {
	if strings.TrimSpace(o.Name) == "" {
		return expandedOrg{}, fmt.Errorf("scenario: %s: name is required", where)
	}
	eo := expandedOrg{id: o.ID, name: o.Name}
	if eo.id == "" {
		eo.id = deriveID("organization", o.Name)
	}
	if err := claimID(ids, eo.id, where); err != nil {
		return eo, err
	}
	var accts []AccountSpec
	for _, a := range o.Accounts {
		a.Organization = eo.id
		a.Production.Pools = append([]PoolSpec(nil), a.Production.Pools...) // filled in below; keep the caller's scenario untouched
		accts = append(accts, a)
	}
	for gi, g := range o.Generate {
		gen, err := generateAccounts(g, fmt.Sprintf("%s.generate[%d]", where, gi), eo.id, total)
		if err != nil {
			return eo, err
		}
		accts = append(accts, gen...)
	}
	for ai := range accts {
		aw := fmt.Sprintf("%s.accounts[%d]", where, ai)
		if accts[ai].Name != "" {
			aw += fmt.Sprintf(" (%s)", accts[ai].Name)
		}
		if err := normalizeAccount(&accts[ai], aw, ids, names); err != nil {
			return eo, err
		}
	}
	eo.accounts = accts
	return eo, nil
}

// generateAccounts is g's accounts (prefix + number) in organization org.
func generateAccounts(g GenerateSpec, gw, org string, total *int) ([]AccountSpec, error) {
	if g.Prefix == "" {
		return nil, fmt.Errorf("scenario: %s: prefix is required", gw)
	}
	if g.Name != "" || g.ID != "" {
		return nil, fmt.Errorf("scenario: %s: name and id are derived from prefix and number; remove them", gw)
	}
	if g.Count < 0 || g.Count > maxGenerated {
		return nil, fmt.Errorf("scenario: %s: count %d out of range 0..%d", gw, g.Count, maxGenerated)
	}
	*total += g.Count
	if *total > maxGenerated {
		return nil, fmt.Errorf("scenario: more than %d generated accounts", maxGenerated)
	}
	start := g.Start
	if start == 0 {
		start = 1
	}
	if start < 0 {
		return nil, fmt.Errorf("scenario: %s: start must be positive", gw)
	}
	width := max(len(strconv.Itoa(start+g.Count-1)), 3)
	var accts []AccountSpec
	for i := 0; i < g.Count; i++ {
		a := g.AccountSpec
		a.Name = fmt.Sprintf("%s%0*d", g.Prefix, width, start+i)
		a.Organization = org
		a.Production.Pools = append([]PoolSpec(nil), g.Production.Pools...)
		for pi := range a.Production.Pools {
			a.Production.Pools[pi].ID = "" // ids of a template would collide
		}
		accts = append(accts, a)
	}
	return accts, nil
}

func claimID(ids map[string]string, id, where string) error {
	if !safeID.MatchString(id) {
		return fmt.Errorf("scenario: %s: id %q: use letters, digits, '.', '_', ':' or '-' (at most 128)", where, id)
	}
	if prev, dup := ids[id]; dup {
		return fmt.Errorf("scenario: %s: id %q is already used by %s", where, id, prev)
	}
	ids[id] = where
	return nil
}

// normalizeAccount checks one account and fills its defaults. It is shared
// by scenario loading and AddAccount so both refuse the same mistakes.
func normalizeAccount(a *AccountSpec, where string, ids, names map[string]string) (err error) {
	// A refused account must not keep the names and ids it claimed on the
	// way, or a corrected retry would meet "already used".
	var claimedIDs []string
	claimedName := ""
	defer func() {
		if err != nil {
			for _, id := range claimedIDs {
				delete(ids, id)
			}
			if claimedName != "" {
				delete(names, claimedName)
			}
		}
	}()
	claim := func(id, w string) error {
		if err := claimID(ids, id, w); err != nil {
			return err
		}
		claimedIDs = append(claimedIDs, id)
		return nil
	}
	a.Name = strings.TrimSpace(a.Name)
	if a.Name == "" {
		return fmt.Errorf("%s: name is required", where)
	}
	if len(a.Name) > 200 || strings.ContainsAny(a.Name, "\x00\r\n\t") {
		return fmt.Errorf("%s: name must be one line of at most 200 characters", where)
	}
	key := strings.ToLower(a.Name)
	if prev, dup := names[key]; dup {
		return fmt.Errorf("%s: account name %q is already used by %s (names are unique)", where, a.Name, prev)
	}
	names[key] = where
	claimedName = key
	if a.ID == "" {
		a.ID = deriveID("account", a.Name)
	}
	if err := claim(a.ID, where); err != nil {
		return err
	}
	if err := fillAccountDefaults(a, where); err != nil {
		return err
	}
	return normalizePools(a, where, claim)
}

// fillAccountDefaults checks and fills the account's provider, state,
// last publish time and image versions.
func fillAccountDefaults(a *AccountSpec, where string) error {
	if a.CloudProvider == "" {
		a.CloudProvider = "aws"
	}
	if !providerName.MatchString(a.CloudProvider) {
		return fmt.Errorf("%s: cloud_provider %q must be a lowercase name such as aws, gcp or azure", where, a.CloudProvider)
	}
	if a.Active == nil {
		yes := true
		a.Active = &yes
	}
	if a.LastPublish != "" {
		t, err := time.Parse(time.RFC3339Nano, a.LastPublish)
		if err != nil {
			return fmt.Errorf("%s: last_publish %q: want an RFC 3339 time such as 2026-01-31T09:00:00Z", where, a.LastPublish)
		}
		a.LastPublish = formatTime(t)
	}
	if a.Sandbox.ImageVersion == "" {
		a.Sandbox.ImageVersion = "base-1.0.0"
	}
	if a.Production.ImageVersion == "" {
		a.Production.ImageVersion = a.Sandbox.ImageVersion
	}
	if len(a.Production.Pools) == 0 {
		a.Production.Pools = []PoolSpec{{Name: "Production", Elasticity: ElasticitySpec{0, 0, 1}}}
	}
	return nil
}

// normalizePools checks and fills the account's production pools; claim
// takes each pool's id.
func normalizePools(a *AccountSpec, where string, claim func(id, w string) error) error {
	poolNames := map[string]bool{}
	for i := range a.Production.Pools {
		p := &a.Production.Pools[i]
		pw := fmt.Sprintf("%s.production.pools[%d]", where, i)
		if p.Name == "" {
			return fmt.Errorf("%s: name is required", pw)
		}
		if poolNames[p.Name] {
			return fmt.Errorf("%s: pool name %q appears twice in the account", pw, p.Name)
		}
		poolNames[p.Name] = true
		if p.ID == "" {
			p.ID = deriveID("pool", a.ID, "production", p.Name)
		}
		if err := claim(p.ID, pw); err != nil {
			return err
		}
		if p.InstanceType == "" {
			p.InstanceType = defaultInstanceType(a.CloudProvider)
		}
		if err := checkElasticity(p.Elasticity); err != nil {
			return fmt.Errorf("%s: elasticity: %v", pw, err)
		}
	}
	return nil
}

func checkElasticity(e ElasticitySpec) error {
	switch {
	case e.MinServers < 0 || e.BufferServers < 0 || e.MaxServers < 0:
		return errors.New("min_servers, buffer_servers and max_servers must not be negative")
	case e.MaxServers > MaxServersPerPool:
		return fmt.Errorf("max_servers %d is above the limit of %d servers per pool", e.MaxServers, MaxServersPerPool)
	case e.MinServers > e.MaxServers:
		return fmt.Errorf("min_servers %d is greater than max_servers %d", e.MinServers, e.MaxServers)
	}
	return nil
}

func defaultInstanceType(provider string) string {
	switch provider {
	case "gcp":
		return "e2-standard-2-Windows"
	case "azure":
		return "Standard_D2s_v3"
	default:
		return "t3.large"
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// timeLayout is how Frame writes timestamps (microseconds, UTC, "Z").
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }
