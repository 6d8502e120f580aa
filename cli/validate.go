package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/runner"
	"github.com/frameflow/frameflow/schema"
	"github.com/spf13/cobra"
)

func (a *app) validateCmd() *cobra.Command {
	var inputs []string
	var inputsFile string
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check workflow files; every problem as FILE:LINE:COL: message (exit 2 if any)",
		Long: `Check workflow files without the network: syntax, schema, expressions,
references, the DAG, secrets, and every step input that is known offline
(constants, input defaults, and --input/--inputs values) against the step's
constraints, with the messages run would give. A workflow validate passes
with some inputs is not refused by run for invalid input with the same ones.`,
		ValidArgsFunction: yamlFiles,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr("usage: frameflow validate FILE...")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, files []string) error {
			reg, err := newRegistry()
			if err != nil {
				return err
			}
			raw, err := parseInputFlags(inputs)
			if err != nil {
				return err
			}
			typed, pos, err := readInputsFile(inputsFile)
			if err != nil {
				return err
			}
			given := runner.Inputs{Text: raw, Values: typed, Positions: pos}
			var all schema.Diagnostics
			for _, f := range files {
				prog, ds := loadProgram(f, reg)
				var note string
				if len(ds) == 0 {
					ds, note = a.checkOffline(cmd.Context(), prog, given)
				}
				all = append(all, ds...)
				if len(ds) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: ok%s\n", f, note)
				}
			}
			if len(all) > 0 {
				a.printDiagnostics(cmd.ErrOrStderr(), all)
				return invalidWorkflow(len(all))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "name=value: check with this input value (repeatable)")
	cmd.Flags().StringVar(&inputsFile, "inputs", "", "YAML or JSON file of inputs to check with")
	return cmd
}

// checkOffline runs runner.CheckOffline; the note of an ok line names the
// required inputs without a default whose steps could not be checked.
func (a *app) checkOffline(ctx context.Context, prog *engine.Program, given runner.Inputs) (schema.Diagnostics, string) {
	ds, missing := runner.CheckOffline(ctx, prog, given, a.getenv, a.red)
	if len(missing) > 0 {
		return ds, fmt.Sprintf(" (step inputs computed from %s not checked: give --input %s=... to check them)", strings.Join(missing, ", "), missing[0])
	}
	return ds, ""
}

func (a *app) graphCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:               "graph FILE",
		Short:             "Print the workflow's DAG as Graphviz DOT or Mermaid",
		Args:              exactArgs(1, "FILE"),
		ValidArgsFunction: yamlFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "dot" && format != "mermaid" {
				return usageErr("--format must be dot or mermaid, not %q", format)
			}
			reg, err := newRegistry()
			if err != nil {
				return err
			}
			prog, ds := loadProgram(args[0], reg)
			if len(ds) > 0 {
				a.printDiagnostics(cmd.ErrOrStderr(), ds)
				return invalidWorkflow(len(ds))
			}
			var g string
			switch format {
			case "dot":
				g = prog.DOT()
			case "mermaid":
				g = prog.Mermaid()
			default:
				return usageErr("--format must be dot or mermaid, not %q", format)
			}
			if !strings.HasSuffix(g, "\n") {
				g += "\n"
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), g)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "dot", "dot or mermaid")
	return cmd
}

func (a *app) schemaCmd() *cobra.Command {
	var playbooks string
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of workflow files (for editors)",
		Long: `Print the JSON Schema of workflow files, for editors (yaml-language-server).

With --playbooks DIR, every playbook under DIR is also offered to uses: as
./PATH (relative to DIR, as a playbook in DIR calls it), with its declared
inputs completed and checked in with: (docs/composition.md).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := newRegistry()
			if err != nil {
				return err
			}
			infos := reg.SchemaInfos()
			if playbooks != "" {
				more, err := playbookInfos(playbooks, infos)
				if err != nil {
					return withCode(ExitInvalid, err)
				}
				infos = append(infos, more...)
			}
			b, err := schema.JSONSchema(infos)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(b, '\n'))
			return err
		},
	}
	cmd.Flags().StringVar(&playbooks, "playbooks", "", "also offer the playbooks under DIR to uses: ./PATH, with their inputs")
	return cmd
}

// playbookInfos describes every playbook under dir (*.yaml, *.yml, in
// subfolders too) as a callable ./PATH. A file that does not load is an
// error naming its first problem: a schema must not silently miss it.
func playbookInfos(dir string, types []schema.StepTypeInfo) ([]schema.StepTypeInfo, error) {
	var out []schema.StepTypeInfo
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(filepath.Ext(path))
		if d.IsDir() || (ext != ".yaml" && ext != ".yml") {
			return nil
		}
		wf, diags := schema.LoadFile(path, schema.LoadOptions{StepTypes: types})
		if wf == nil || len(diags) > 0 {
			return fmt.Errorf("--playbooks: %s", diags[0])
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		out = append(out, schema.PlaybookInfo("./"+filepath.ToSlash(rel), wf))
		return nil
	})
	return out, err
}

// stepInfo is the JSON shape of `frameflow steps --format json`.
type stepInfo struct {
	Type        string                   `json:"type"`
	Description string                   `json:"description"`
	Mutates     bool                     `json:"mutates"`
	Destructive bool                     `json:"destructive"`
	Inputs      []engine.InputSpec       `json:"inputs"`
	Outputs     map[string]*engine.Shape `json:"outputs"`
}

func (a *app) stepsCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "steps [TYPE]",
		Short: "List every step type, or show one: inputs, outputs, resume semantics, an example",
		Args:  maxArgs(1, "TYPE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := newRegistry()
			if err != nil {
				return err
			}
			types := reg.Types()
			if len(args) == 1 {
				t, ok := reg.Lookup(args[0])
				if !ok {
					return usageErr("unknown step type %q%s; frameflow steps lists them", args[0], didYouMean(args[0], typeNames(types)))
				}
				types = []*engine.StepType{t}
			}
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				var infos []stepInfo
				for _, t := range types {
					infos = append(infos, stepInfo{Type: t.Name, Description: t.Description, Mutates: t.Mutates, Destructive: t.Destructive, Inputs: t.Inputs, Outputs: t.Outputs})
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if len(args) == 1 {
					return enc.Encode(infos[0])
				}
				return enc.Encode(infos)
			case "text":
				if len(args) == 1 {
					writeStepDetail(out, types[0])
					return nil
				}
				writeStepsTable(out, types)
				return nil
			default:
				return usageErr("--format must be text or json, not %q", format)
			}
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

// shortList joins names up to about width characters and says how many more
// there are, so one endpoint with thirty inputs does not widen the table.
func shortList(names []string, width int) string {
	out := ""
	for i, n := range names {
		next := out
		if i > 0 {
			next += ","
		}
		next += n
		if len(next) > width && i > 0 {
			return fmt.Sprintf("%s,+%d more", out, len(names)-i)
		}
		out = next
	}
	return out
}
