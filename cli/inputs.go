package cli

import (
	"fmt"
	"strings"

	"github.com/frameflow/frameflow/schema"
	"gopkg.in/yaml.v3"
)

// parseInputFlags turns repeated --input k=v into a map; values stay strings
// and are coerced by the engine according to each input's declared type.
func parseInputFlags(kvs []string) (map[string]string, error) {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usageErr("--input wants name=value, got %q", kv)
		}
		if _, dup := out[k]; dup {
			return nil, usageErr("--input %s given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// readInputsFile reads --inputs FILE (YAML or JSON object of typed values)
// and where each value stands in it, so that a bad value's error can say
// FILE:LINE:COL. Numbers keep the type YAML gives them (3 an integer, 3.5
// a float); binding converts each by its input's declared type.
func readInputsFile(path string) (map[string]any, map[string]schema.Pos, error) {
	if path == "" {
		return nil, nil, nil
	}
	b, err := schema.ReadSource(path)
	if err != nil {
		return nil, nil, usageErr("--inputs %s: %v", path, err)
	}
	if len(b) > schema.DefaultMaxBytes {
		return nil, nil, usageErr("--inputs %s: larger than %d bytes", path, schema.DefaultMaxBytes)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, nil, usageErr("--inputs %s: not a YAML/JSON object of inputs: %v", path, err)
	}
	if len(doc.Content) == 0 {
		return map[string]any{}, nil, nil // an empty file gives no inputs
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nil, usageErr("%s: --inputs wants an object of inputs (name: value)", schema.PosOf(path, root))
	}
	var m map[string]any
	if err := root.Decode(&m); err != nil {
		return nil, nil, usageErr("--inputs %s: not a YAML/JSON object of inputs: %v", path, err)
	}
	pos := make(map[string]schema.Pos, len(root.Content)/2)
	for i := 0; i+1 < len(root.Content); i += 2 {
		pos[root.Content[i].Value] = schema.PosOf(path, root.Content[i+1])
	}
	return m, pos, nil
}

func confirmPrompt(a *app, question string) (bool, error) {
	fmt.Fprintf(a.streams.Out, "%s\n  Only 'yes' will be accepted: ", question)
	var answer string
	_, err := fmt.Fscanln(a.streams.In, &answer)
	if err != nil && err.Error() != "unexpected newline" {
		return false, nil
	}
	return strings.TrimSpace(answer) == "yes", nil
}
