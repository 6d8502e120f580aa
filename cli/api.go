package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/internal/termtext"
	"github.com/frameflow/frameflow/runner"
	"github.com/spf13/cobra"
)

func (a *app) apiCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "api",
		Short: "The Admin API endpoint catalog, and single signed requests",
	}
	var format string
	list := &cobra.Command{
		Use:   "list",
		Short: "List every documented Admin API endpoint",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eps := frame.Catalog()
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(eps)
			case "text":
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tMETHOD\tPATH\tMUTATES")
				for _, e := range eps {
					m := "no"
					if e.Destructive {
						m = "destructive"
					} else if e.Mutates {
						m = "yes"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Method, e.Path, m)
				}
				tw.Flush()
				fmt.Fprintf(out, "\n%d endpoints\n", len(eps))
				return nil
			default:
				return usageErr("--format must be text or json, not %q", format)
			}
		},
	}
	list.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.AddCommand(list, a.apiRequestCmd("get"), a.apiRequestCmd("post"), a.apiRequestCmd("delete"))
	return cmd
}

// apiRequestCmd sends one signed request, like `gh api`.
func (a *app) apiRequestCmd(method string) *cobra.Command {
	var fields []string
	var jsonBody bool
	cmd := &cobra.Command{
		Use:   method + " PATH",
		Short: "Send one signed " + strings.ToUpper(method) + " request and print the JSON response",
		Args:  exactArgs(1, "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := a.apiPathArg(args[0])
			if err != nil {
				return err
			}
			var q url.Values
			if i := strings.IndexByte(raw, '?'); i >= 0 {
				var err error
				if q, err = url.ParseQuery(raw[i+1:]); err != nil {
					return usageErr("bad query string in %q: %v", raw, err)
				}
				raw = raw[:i]
			}
			p, err := frame.CleanAPIPath(raw)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			vals := url.Values{}
			for _, f := range fields {
				k, v, ok := strings.Cut(f, "=")
				if !ok || k == "" {
					return usageErr("-f wants key=value, got %q", f)
				}
				vals.Add(k, v)
			}
			req := &frame.Request{Method: strings.ToUpper(method), Path: p, Query: q}
			switch {
			case method == "get" || method == "delete":
				if req.Query == nil {
					req.Query = url.Values{}
				}
				for k, vs := range vals {
					req.Query[k] = append(req.Query[k], vs...)
				}
			case jsonBody:
				obj := map[string]any{}
				for k := range vals {
					obj[k] = jsonScalar(vals.Get(k))
				}
				req.JSON = obj
			default:
				req.Form = vals
			}
			c, err := a.newClient(clientOptions{})
			if err != nil {
				return err
			}
			var out any
			if _, err := c.Do(cmd.Context(), req, &out); err != nil {
				if hint := runner.AccessHintForError(err); hint != "" {
					return &hintError{err: err, hint: "Hint: " + hint + "."}
				}
				return err
			}
			enc := json.NewEncoder(termtext.JSONWriter(cmd.OutOrStdout()))
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	if method != "get" {
		cmd.Flags().BoolVar(&jsonBody, "json", false, "send the fields as a JSON object instead of form data")
	}
	cmd.Flags().StringArrayVarP(&fields, "field", "f", nil, "key=value: a form field (post) or query parameter (get)")
	return cmd
}

// jsonScalar turns "true", "12" and "null" into their JSON values and leaves
// any other string as it is.
func jsonScalar(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		switch v.(type) {
		case bool, float64, nil:
			return v
		}
	}
	return s
}
