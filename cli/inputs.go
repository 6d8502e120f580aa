package cli

import (
	"fmt"
	"os"
	"strings"

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

// readInputsFile reads --inputs FILE (YAML or JSON object of typed values).
func readInputsFile(path string) (map[string]any, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr("--inputs: %v", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, usageErr("--inputs %s: not a YAML/JSON object of inputs: %v", path, err)
	}
	return m, nil
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
