package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
	"github.com/spf13/cobra"
)

func (a *app) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "validate FILE...",
		Short:             "Check workflow files; every problem as FILE:LINE:COL: message (exit 2 if any)",
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
			var all schema.Diagnostics
			for _, f := range files {
				_, ds := loadProgram(f, reg)
				all = append(all, ds...)
				if len(ds) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", f)
				}
			}
			if len(all) > 0 {
				a.printDiagnostics(cmd.ErrOrStderr(), all)
				return invalidWorkflow(len(all))
			}
			return nil
		},
	}
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
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of workflow files (for editors)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := newRegistry()
			if err != nil {
				return err
			}
			b, err := schema.JSONSchema(reg.SchemaInfos())
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(b, '\n'))
			return err
		},
	}
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
		Use:   "steps",
		Short: "List every step type: inputs, outputs, whether it mutates",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := newRegistry()
			if err != nil {
				return err
			}
			var infos []stepInfo
			for _, t := range reg.Types() {
				infos = append(infos, stepInfo{Type: t.Name, Description: t.Description, Mutates: t.Mutates, Destructive: t.Destructive, Inputs: t.Inputs, Outputs: t.Outputs})
			}
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			case "text":
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TYPE\tMUTATES\tINPUTS\tDESCRIPTION")
				for _, s := range infos {
					var names []string
					for _, in := range s.Inputs {
						n := in.Name
						if in.Required {
							n += "*"
						}
						names = append(names, n)
					}
					mut := "no"
					if s.Destructive {
						mut = "destructive"
					} else if s.Mutates {
						mut = "yes"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Type, mut, shortList(names, 48), s.Description)
				}
				tw.Flush()
				fmt.Fprintln(out, "\n* required input. `frameflow steps --format json` has types, descriptions and outputs.")
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
