package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Defaults of LoadOptions.
const (
	DefaultMaxBytes = 4 << 20
	DefaultMaxDepth = 64
	DefaultMaxNodes = 1_000_000
)

// LoadOptions configures Load.
type LoadOptions struct {
	// StepTypes are the known step types with their `with` schemas. When
	// empty, `uses` and `with` are not checked (any step type is accepted).
	StepTypes []StepTypeInfo
	MaxBytes  int64 // largest file accepted; default 4 MiB
	MaxDepth  int   // deepest nesting of lists and mappings; default 64
	MaxNodes  int   // most YAML nodes after alias expansion; default 1,000,000
	// ReadFile reads a called playbook (uses: ./x.yaml) by the path joined
	// to its caller's folder; nil: ReadSource (regular files only).
	ReadFile func(path string) ([]byte, error)
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxNodes <= 0 {
		o.MaxNodes = DefaultMaxNodes
	}
	return o
}

// LoadFile reads and loads the workflow file at path. The path is used as
// the file name in positions.
func LoadFile(path string, opts LoadOptions) (*Workflow, Diagnostics) {
	opts = opts.withDefaults()
	// One byte past the limit is read, so an oversized file is refused
	// without reading all of it.
	data, err := readSource(path, opts.MaxBytes)
	if err != nil {
		return nil, Diagnostics{{Pos: Pos{File: path, Line: 1, Col: 1}, Message: fmt.Sprintf("cannot read the workflow file: %v", unwrapPathError(err))}}
	}
	return Load(path, data, opts)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Load parses and checks one workflow file. It returns a best-effort model
// even when there are diagnostics (so the engine can add its own), and every
// diagnostic found, sorted by position. The model is nil only when nothing
// usable could be read: the file is too large, is not valid YAML, is empty,
// or was refused as too deep or too large after alias expansion.
//
// Steps with uses: ./other.yaml have the called playbook loaded and checked
// too (Step.Callee), relative to file's folder, each distinct file once;
// its problems are reported in its own file, cycles and calls nested deeper
// than MaxCallDepth at the uses that closes or exceeds them.
func Load(file string, data []byte, opts LoadOptions) (*Workflow, Diagnostics) {
	opts = opts.withDefaults()
	wf, diags := loadOne(file, data, opts)
	if wf == nil || !hasCalls(wf.Steps) {
		return wf, diags
	}
	diags = append(diags, resolveCalls(wf, opts)...)
	SortDiagnostics(diags)
	return wf, dedup(diags)
}

// loadOne loads one file, leaving its calls unresolved.
func loadOne(file string, data []byte, opts LoadOptions) (*Workflow, Diagnostics) {
	at := func(line, col int, format string, args ...any) Diagnostics {
		return Diagnostics{{Pos: Pos{File: file, Line: line, Col: col}, Message: fmt.Sprintf(format, args...)}}
	}
	if int64(len(data)) > opts.MaxBytes {
		return nil, at(1, 1, "the file is larger than %d bytes; refusing to load it", opts.MaxBytes)
	}
	// Bytes YAML cannot hold are reported where they are, before the parser
	// (which names no position for them) sees the file.
	if bad := checkBytes(file, data); len(bad) > 0 {
		return nil, bad
	}
	doc, diags, fatal := parseDocument(file, data, opts)
	if fatal != nil {
		return nil, fatal
	}
	if len(doc.Content) == 0 {
		if len(diags) > 0 { // an empty document before a real one
			return nil, diags
		}
		return nil, at(1, 1, "the file is empty; a workflow needs at least version, name and steps")
	}

	lim := &limits{file: file, maxNodes: opts.MaxNodes, maxDepth: opts.MaxDepth}
	if !lim.count(doc, 0) {
		return nil, append(diags, *lim.diag)
	}

	b := &builder{file: file, diags: &diags}
	root := b.build(doc, PosOf(file, doc.Content[0]))

	sum := sha256.Sum256(data)
	wf := &Workflow{File: file, Hash: "sha256:" + hex.EncodeToString(sum[:]), SourceHash: "sha256:" + hex.EncodeToString(sum[:]), Pos: root.pos, Root: doc, Checked: len(opts.StepTypes) > 0}
	if root.kind != MapValue {
		diags = append(diags, Diagnostic{Pos: root.pos, Message: fmt.Sprintf("the top level of a workflow must be a mapping (version, name, steps, ...), not %s", describeActual(jsonType(root.json())))})
		SortDiagnostics(diags)
		return wf, dedup(diags)
	}

	for _, sd := range validateSchema(file, root, opts.StepTypes) {
		if !slices.Contains(b.outOfRange, sd.Pos) {
			diags = append(diags, sd)
		}
	}
	d := &decoder{file: file, types: opts.StepTypes}
	d.workflow(wf, root)
	diags = append(diags, d.diags...)
	SortDiagnostics(diags)
	return wf, dedup(diags)
}

// parseDocument parses the first YAML document and refuses a second one.
// fatal is set when nothing can be loaded.
func parseDocument(file string, data []byte, opts LoadOptions) (doc *yaml.Node, diags, fatal Diagnostics) {
	at := func(line, col int, format string, args ...any) Diagnostics {
		return Diagnostics{{Pos: Pos{File: file, Line: line, Col: col}, Message: fmt.Sprintf(format, args...)}}
	}
	defer func() {
		// yaml.v3 has panicked on crafted input before; a workflow file must
		// never crash the tool. Only the parser is guarded: a panic in this
		// package's own code is a bug the fuzz target must see.
		if r := recover(); r != nil {
			doc, diags, fatal = nil, nil, at(1, 1, "cannot parse the file as YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	doc = &yaml.Node{}
	if err := dec.Decode(doc); err != nil {
		if err == io.EOF {
			return nil, nil, at(1, 1, "the file is empty; a workflow needs at least version, name and steps")
		}
		if strings.Contains(err.Error(), "exceeded max depth") {
			return nil, nil, at(1, 1, "nesting deeper than %d levels; refusing to load the document", opts.MaxDepth)
		}
		return nil, nil, yamlErrorDiags(file, data, err)
	}
	// A second document is refused rather than silently ignored: it is
	// usually a concatenation mistake. Empty trailing documents are harmless.
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if err == io.EOF {
			break
		}
		if err != nil {
			diags = append(diags, yamlErrorDiags(file, data, err)...)
			break
		}
		if len(extra.Content) > 0 {
			diags = append(diags, Diagnostic{Pos: PosOf(file, &extra), Message: "the file holds more than one YAML document; a workflow file must hold exactly one"})
			break
		}
	}
	return doc, diags, nil
}

// dedup drops repeated diagnostics (an alias used twice reports the problems
// of its anchor once). ds must be sorted.
func dedup(ds Diagnostics) Diagnostics {
	if len(ds) == 0 {
		return nil
	}
	out := ds[:1]
	for _, d := range ds[1:] {
		if d != out[len(out)-1] {
			out = append(out, d)
		}
	}
	return out
}
