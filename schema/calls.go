package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MaxCallDepth is how deep playbooks may call each other (the root file
// is depth 0): deep enough for a library calling a library, shallow enough
// that a runaway chain is refused with a name rather than recursing.
const MaxCallDepth = 8

// callLoader loads the playbooks a file calls, each distinct file once.
type callLoader struct {
	opts  LoadOptions
	files map[string]*callFile // by absolute path
	diags Diagnostics
}

type callFile struct {
	wf      *Workflow // nil: could not be loaded (reported once)
	loading bool      // on the current call chain: calling it again is a cycle
}

func hasCalls(steps []*Step) bool {
	for _, s := range steps {
		if s.IsCall() || hasCalls(s.Steps) {
			return true
		}
	}
	return false
}

// resolveCalls loads every playbook root calls, directly or not, and sets
// each call step's Callee; then folds the called files' hashes into the
// callers' (Workflow.Hash).
func resolveCalls(root *Workflow, opts LoadOptions) Diagnostics {
	l := &callLoader{opts: opts, files: map[string]*callFile{}}
	abs, err := filepath.Abs(root.File)
	if err != nil {
		abs = root.File
	}
	l.files[abs] = &callFile{wf: root, loading: true}
	l.resolve(root, []string{root.File})
	l.files[abs].loading = false
	composeHash(root, map[*Workflow]bool{})
	return l.diags
}

func (l *callLoader) errorf(pos Pos, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{Pos: pos, Message: fmt.Sprintf(format, args...)})
}

// resolve loads the callees of wf; chain holds the file names from the root
// to wf, for naming cycles.
func (l *callLoader) resolve(wf *Workflow, chain []string) {
	var walk func(steps []*Step)
	walk = func(steps []*Step) {
		for _, s := range steps {
			walk(s.Steps)
			if !s.IsCall() {
				continue
			}
			s.Callee = l.call(wf, s, chain)
		}
	}
	walk(wf.Steps)
}

func (l *callLoader) call(caller *Workflow, s *Step, chain []string) *Workflow {
	label := fmt.Sprintf("step %q: ", s.ID)
	if s.ID == "" {
		label = ""
	}
	ext := strings.ToLower(filepath.Ext(s.Uses))
	if ext != ".yaml" && ext != ".yml" {
		l.errorf(s.UsesPos, "%suses %q: a called playbook is a .yaml or .yml file", label, s.Uses)
		return nil
	}
	name := filepath.Join(filepath.Dir(caller.File), filepath.FromSlash(s.Uses))
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	if f, ok := l.files[abs]; ok {
		if f.loading {
			names := append(append([]string(nil), chain[indexOfFile(l, chain, abs):]...), name)
			l.errorf(s.UsesPos, "%splaybooks call each other in a cycle: %s", label, strings.Join(names, " → "))
			return nil
		}
		return f.wf
	}
	if len(chain) > MaxCallDepth {
		l.errorf(s.UsesPos, "%scalling %s would nest playbooks %d deep (at most %d): %s", label, name, len(chain), MaxCallDepth, strings.Join(append(chain, name), " → "))
		return nil
	}
	read := l.opts.ReadFile
	if read == nil {
		read = ReadSource
	}
	f := &callFile{loading: true}
	l.files[abs] = f
	data, err := read(name)
	if err != nil {
		msg := err.Error()
		if os.IsNotExist(err) {
			msg = "no such file"
		} else {
			msg = unwrapPathError(err).Error()
		}
		l.errorf(s.UsesPos, "%scannot read the called playbook %s: %s (a path in uses is relative to the calling file's folder)", label, name, msg)
		f.loading = false
		return nil
	}
	callee, diags := loadOne(name, data, l.opts)
	l.diags = append(l.diags, diags...)
	if callee != nil {
		f.wf = callee
		l.resolve(callee, append(chain[:len(chain):len(chain)], name))
	}
	f.loading = false
	return callee
}

// indexOfFile finds where abs first appears on the chain (for a cycle's
// name); 0 when it cannot tell.
func indexOfFile(l *callLoader, chain []string, abs string) int {
	for i, c := range chain {
		a, err := filepath.Abs(c)
		if err == nil && a == abs {
			return i
		}
	}
	return 0
}

// composeHash sets wf.Hash to cover its own bytes and every called file,
// each distinct callee once, in the order of its path.
func composeHash(wf *Workflow, done map[*Workflow]bool) {
	if done[wf] {
		return
	}
	done[wf] = true
	callees := map[string]*Workflow{}
	var walk func(steps []*Step)
	walk = func(steps []*Step) {
		for _, s := range steps {
			walk(s.Steps)
			if s.Callee != nil {
				callees[s.Uses] = s.Callee
			}
		}
	}
	walk(wf.Steps)
	if len(callees) == 0 {
		return
	}
	paths := make([]string, 0, len(callees))
	for p := range callees {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	fmt.Fprintf(h, "frameflow playbook %s\n", wf.SourceHash)
	for _, p := range paths {
		c := callees[p]
		composeHash(c, done)
		fmt.Fprintf(h, "uses %d:%s %s\n", len(p), p, c.Hash)
	}
	wf.Hash = "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// PlaybookInfo describes a playbook as a callable for the editor schema
// (JSONSchema): uses is the path callers write (./lib/x.yaml), and the
// with schema lists its declared inputs (type, description, enum,
// default; those required without a default are required), so that an
// editor completes and checks a call's with: as it does a step type's.
func PlaybookInfo(uses string, wf *Workflow) StepTypeInfo {
	props := map[string]any{}
	var required []any
	for _, in := range wf.Inputs {
		p := map[string]any{}
		switch in.Type {
		case "list":
			p["type"] = "array"
		case "":
			p["type"] = "string"
		default:
			p["type"] = in.Type
		}
		desc := in.Description
		if in.Secret {
			desc = strings.TrimSpace(desc + " (secret)")
		}
		if desc != "" {
			p["description"] = desc
		}
		if len(in.Enum) > 0 {
			p["enum"] = in.Enum
		}
		if in.HasDefault && !in.Secret {
			p["default"] = in.Default
		}
		if in.Required && !in.HasDefault {
			required = append(required, in.Name)
		}
		props[in.Name] = p
	}
	with := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		with["required"] = required
	}
	desc := wf.Description
	if desc == "" {
		desc = "the playbook " + wf.Name
	}
	return StepTypeInfo{Name: uses, Description: desc, WithSchema: with}
}
