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
	var format, api string
	list := &cobra.Command{
		Use:   "list",
		Short: "List every documented Admin API endpoint (--api v1alpha: the older web API)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !frame.KnownAPI(api) {
				return usageErr("--api must be v1 or v1alpha, not %q", api)
			}
			eps := frame.CatalogFor(api)
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
	list.Flags().StringVar(&api, "api", frame.APIv1, "which API's catalog: v1 or v1alpha")
	cmd.AddCommand(list, a.apiRequestCmd("get"), a.apiRequestCmd("post"), a.apiRequestCmd("delete"))
	return cmd
}

// apiRequestCmd sends one signed request, like `gh api`. Without -f or
// --json a request has no body at all (a POST says Content-Length: 0), never
// an empty chunked one.
func (a *app) apiRequestCmd(method string) *cobra.Command {
	o := apiRequestFlags{method: method}
	fieldHelp := "key=value: a form field"
	if method == "get" {
		fieldHelp = "key=value: a query parameter"
	} else if method == "delete" {
		fieldHelp = "key=value: a query parameter (a DELETE body goes in --json)"
	}
	cmd := &cobra.Command{
		Use:   method + " PATH",
		Short: "Send one signed " + strings.ToUpper(method) + " request and print the response",
		Args:  exactArgs(1, "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runAPIRequest(cmd, args[0], o)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&o.fields, "field", "f", nil, fieldHelp)
	fl.StringArrayVarP(&o.queries, "query", "q", nil, "key=value: a query parameter (repeat a key, or write key[]=v, for a list)")
	if method != "get" {
		fl.StringVar(&o.jsonBody, "json", "", `a JSON body, sent as given, e.g. '{"account_server_stop": {"force": false}}'`)
	}
	fl.StringVar(&o.api, "api", frame.APIv1, "v1 or v1alpha (the older web API, its own base URL)")
	return cmd
}

// apiRequestFlags are one `api METHOD` command's options.
type apiRequestFlags struct {
	method          string // get, post, put, delete
	fields, queries []string
	jsonBody, api   string
}

// runAPIRequest builds the request (bad input is refused before anything
// is sent), sends it and prints the answer.
func (a *app) runAPIRequest(cmd *cobra.Command, path string, o apiRequestFlags) error {
	req, err := a.apiRequest(path, o)
	if err != nil {
		return err
	}
	c, err := a.newClient(clientOptions{})
	if err != nil {
		return err
	}
	resp, err := c.Do(cmd.Context(), req, nil)
	if err != nil {
		if hint := runner.AccessHintForError(err); hint != "" {
			return &hintError{err: err, hint: "Hint: " + hint + "."}
		}
		return err
	}
	out, derr := frame.DecodeJSON(resp.Body)
	if derr != nil {
		// Not JSON (v1alpha recent_sessions is CSV): printed as text,
		// control characters escaped.
		_, err := fmt.Fprintln(cmd.OutOrStdout(), printableText(string(resp.Body)))
		return err
	}
	enc := json.NewEncoder(termtext.JSONWriter(cmd.OutOrStdout()))
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// apiRequest is the request path and o describe.
func (a *app) apiRequest(path string, o apiRequestFlags) (*frame.Request, error) {
	method := o.method
	if !frame.KnownAPI(o.api) {
		return nil, usageErr("--api must be v1 or v1alpha, not %q", o.api)
	}
	raw, err := a.apiPathArg(path, o.api)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		var err error
		if q, err = url.ParseQuery(raw[i+1:]); err != nil {
			return nil, usageErr("bad query string in %q: %v", raw, err)
		}
		raw = raw[:i]
	}
	p, err := frame.CleanAPIPath(raw)
	if err != nil {
		return nil, withCode(ExitInvalid, err)
	}
	vals, err := keyValues("-f", o.fields)
	if err != nil {
		return nil, err
	}
	extraQuery, err := keyValues("-q", o.queries)
	if err != nil {
		return nil, err
	}
	req := &frame.Request{Method: strings.ToUpper(method), Path: p, Query: q, API: o.api}
	addQuery(req, extraQuery)
	switch {
	case o.jsonBody != "" && method == "get":
		return nil, usageErr("--json: a GET has no body")
	case o.jsonBody != "" && len(vals) > 0 && method == "post":
		return nil, usageErr("-f and --json: a request has one body, form or JSON")
	}
	if method == "get" || method == "delete" {
		addQuery(req, vals)
	} else if len(vals) > 0 {
		req.Form = vals
	}
	if o.jsonBody != "" {
		var body any
		dec := json.NewDecoder(strings.NewReader(o.jsonBody))
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil || dec.More() {
			return nil, usageErr("--json: not one JSON value: %s", jsonErrText(err))
		}
		req.JSON = body
	}
	return req, nil
}

// addQuery adds v to req's query.
func addQuery(req *frame.Request, v url.Values) {
	if len(v) == 0 {
		return
	}
	if req.Query == nil {
		req.Query = url.Values{}
	}
	for k, vs := range v {
		req.Query[k] = append(req.Query[k], vs...)
	}
}

// keyValues parses repeated key=value flags.
func keyValues(flag string, kvs []string) (url.Values, error) {
	vals := url.Values{}
	for _, f := range kvs {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, usageErr("%s wants key=value, got %q", flag, f)
		}
		vals.Add(k, v)
	}
	return vals, nil
}

func jsonErrText(err error) string {
	if err == nil {
		return "trailing data"
	}
	return err.Error()
}

// printableText escapes control characters (other than newline and tab) in
// text a server sent, so it cannot drive the terminal.
func printableText(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimRight(s, "\n") {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
