package frame

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// The catalog is data: catalog.json lists every documented Admin API
// endpoint. Steps, the workflow schema, the simulator and the docs read it
// rather than hand-written code per endpoint.
//
// Conventions the data relies on:
//   - Names are dotted lower_snake segments, resource first, verb last
//     (accounts.list, pools.elasticity.set). Names never change once
//     published: workflows refer to them.
//   - Path templates use {param}; every placeholder has exactly one param
//     with In == "path", and no path param lacks a placeholder.
//   - Where the parameter table and the curl example contradict each other
//     the catalog follows the curl example (the call someone actually ran),
//     records the choice in Notes and quotes the docs in DocNote.
//   - A query or form param of type "array" is sent as repeated name[]=value
//     keys and one of type "object" as name[key]=value keys, as the docs'
//     examples do (skip_user_idps[]=a&skip_user_idps[]=b).
//   - Form and JSON params never mix within one endpoint.

//go:embed catalog.json
var catalogJSON []byte

// The v1alpha web API (api.fra.me/v1alpha, same signing) is a second,
// separate catalog: its names overlap v1's (accounts.list) but its paths,
// parameters and answers differ.
//
//go:embed catalog_v1alpha.json
var catalogV1AlphaJSON []byte

// API versions. Endpoint.API is "" for v1.
const (
	APIv1      = "v1"
	APIv1Alpha = "v1alpha"
)

// APIs lists the API versions with a catalog.
var APIs = []string{APIv1, APIv1Alpha}

// KnownAPI reports whether api names a catalog ("" means v1).
func KnownAPI(api string) bool { return api == "" || api == APIv1 || api == APIv1Alpha }

func apiFlag(api string) string {
	if api == APIv1Alpha {
		return " --api v1alpha"
	}
	return ""
}

type catalogSet struct {
	list   []Endpoint
	byName map[string]*Endpoint
}

var (
	catalogOnce sync.Once
	catalogs    map[string]*catalogSet
	catalogErr  error
)

func loadCatalog() {
	catalogs = map[string]*catalogSet{}
	for _, c := range []struct {
		api  string
		data []byte
		file string
	}{{APIv1, catalogJSON, "catalog.json"}, {APIv1Alpha, catalogV1AlphaJSON, "catalog_v1alpha.json"}} {
		eps, err := ParseCatalog(c.data)
		if err != nil {
			catalogErr = fmt.Errorf("frame: embedded %s: %w", c.file, err)
			return
		}
		set := &catalogSet{list: eps, byName: make(map[string]*Endpoint, len(eps))}
		for i := range set.list {
			if set.list[i].API != apiField(c.api) {
				catalogErr = fmt.Errorf("frame: embedded %s: %s says api %q", c.file, set.list[i].Name, set.list[i].API)
				return
			}
			set.byName[set.list[i].Name] = &set.list[i]
		}
		catalogs[c.api] = set
	}
}

// apiField is what Endpoint.API holds for an API version.
func apiField(api string) string {
	if api == APIv1 {
		return ""
	}
	return api
}

func catalogOf(api string) *catalogSet {
	catalogOnce.Do(loadCatalog)
	if catalogErr != nil {
		panic(catalogErr) // the embedded files are checked by tests
	}
	if api == "" {
		api = APIv1
	}
	return catalogs[api]
}

// Catalog returns every v1 endpoint, sorted by name. The slice is shared:
// do not modify it.
func Catalog() []Endpoint { return catalogOf(APIv1).list }

// CatalogFor returns the endpoints of one API version ("" or "v1",
// "v1alpha"), sorted by name; nil for an unknown version.
func CatalogFor(api string) []Endpoint {
	if c := catalogOf(api); c != nil {
		return c.list
	}
	return nil
}

// LookupEndpoint finds a v1 endpoint by its stable name.
func LookupEndpoint(name string) (*Endpoint, bool) { return LookupEndpointIn(APIv1, name) }

// LookupEndpointIn finds an endpoint of one API version by name.
func LookupEndpointIn(api, name string) (*Endpoint, bool) {
	c := catalogOf(api)
	if c == nil {
		return nil, false
	}
	e, ok := c.byName[name]
	return e, ok
}

// CatalogGroups lists the endpoint groups in the order the docs present them.
var CatalogGroups = []string{"account", "organization", "customer", "infrastructure"}

// ParseCatalog decodes and checks a catalog in the format of catalog.json and
// returns its endpoints sorted by name. Every problem is reported, not only
// the first, so a broken edit shows everything at once.
func ParseCatalog(data []byte) ([]Endpoint, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt key would otherwise vanish silently
	var eps []Endpoint
	if err := dec.Decode(&eps); err != nil {
		return nil, err
	}
	var errs []error
	seen := make(map[string]bool, len(eps))
	for i := range eps {
		e := &eps[i]
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("duplicate endpoint name %q", e.Name))
		}
		seen[e.Name] = true
		for _, err := range checkEndpoint(e) {
			errs = append(errs, fmt.Errorf("%s: %w", nameOrIndex(e.Name, i), err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.SliceStable(eps, func(i, j int) bool { return eps[i].Name < eps[j].Name })
	return eps, nil
}

func nameOrIndex(name string, i int) string {
	if name == "" {
		return fmt.Sprintf("endpoint #%d", i)
	}
	return name
}

var (
	endpointNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	paramNameRE    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// Literal segments keep the documented spelling (audit-trails), so '-'
	// is allowed; a query string never belongs in the template.
	pathSegmentRE = regexp.MustCompile(`^([a-z0-9_-]+|\{[a-z][a-z0-9_]*\})$`)
	placeholderRE = regexp.MustCompile(`\{([a-z][a-z0-9_]*)\}`)
)

var validParamTypes = map[string]bool{
	"string": true, "integer": true, "number": true, "boolean": true, "object": true, "array": true,
}

// endpointProblems gathers what is wrong with one catalog entry.
type endpointProblems []error

func (p *endpointProblems) bad(format string, args ...any) {
	*p = append(*p, fmt.Errorf(format, args...))
}

func checkEndpoint(e *Endpoint) []error {
	var errs endpointProblems
	errs.checkHeader(e)
	errs.checkPath(e)
	errs.checkParams(e)
	return errs
}

// checkHeader checks the name, group, method, response and example.
func (errs *endpointProblems) checkHeader(e *Endpoint) {
	bad := errs.bad
	if !endpointNameRE.MatchString(e.Name) {
		bad("name %q is not dotted lower_snake segments", e.Name)
	}
	groupOK := false
	for _, g := range CatalogGroups {
		groupOK = groupOK || e.Group == g
	}
	if !groupOK {
		bad("unknown group %q", e.Group)
	}
	switch e.Method {
	case "GET":
		if e.Mutates {
			bad("a GET never mutates")
		}
	case "POST", "PUT", "PATCH", "DELETE":
		if !e.Mutates {
			bad("%s must be marked as mutating", e.Method)
		}
	default:
		bad("unknown method %q", e.Method)
	}
	if e.Destructive && !e.Mutates {
		bad("destructive but not mutating")
	}
	if strings.TrimSpace(e.Summary) == "" {
		bad("no summary")
	}
	switch e.API {
	case "", APIv1Alpha:
	default:
		bad("unknown api %q", e.API)
	}
	if e.JSONWrap != "" && !paramNameRE.MatchString(e.JSONWrap) {
		bad("json_wrap %q is not lower_snake", e.JSONWrap)
	}
	switch e.Response {
	case RespObject, RespList, RespTask, RespEmpty, RespPublishStatus, RespText:
	default:
		bad("unknown response kind %q", e.Response)
	}
	if e.Status != 0 && (e.Status < 200 || e.Status > 299) {
		bad("success status %d is not 2xx", e.Status)
	}
	if len(e.Example) > 0 && !json.Valid(e.Example) {
		bad("example is not valid JSON")
	}
}

// checkPath checks the path template's form.
func (errs *endpointProblems) checkPath(e *Endpoint) {
	if !strings.HasPrefix(e.Path, "/") || strings.HasSuffix(e.Path, "/") && e.Path != "/" {
		errs.bad("path %q must start and must not end with /", e.Path)
		return
	}
	for _, seg := range strings.Split(e.Path[1:], "/") {
		if !pathSegmentRE.MatchString(seg) {
			errs.bad("path %q: bad segment %q", e.Path, seg)
		}
	}
}

// checkParams checks each param and that the path's placeholders and the
// body params agree with them.
func (errs *endpointProblems) checkParams(e *Endpoint) {
	bad := errs.bad
	inPath := map[string]int{}
	for _, m := range placeholderRE.FindAllStringSubmatch(e.Path, -1) {
		inPath[m[1]]++
	}
	params := map[string]bool{}
	var form, jsonBody bool
	for _, p := range e.Params {
		errs.checkParam(e, p, inPath, params)
		form = form || p.In == InForm
		jsonBody = jsonBody || p.In == InJSON
	}
	for name := range inPath {
		if !params[name] {
			bad("{%s} in the path has no path param", name)
		}
	}
	if form && jsonBody {
		bad("mixes form and JSON body params")
	}
	if (form || jsonBody) && e.Method == "GET" {
		bad("a GET has no body params")
	}
	if e.JSONWrap != "" && !jsonBody {
		bad("json_wrap without JSON params")
	}
}

// checkParam checks one param's name, type, bounds and location; seen
// holds the names of the params before it.
func (errs *endpointProblems) checkParam(e *Endpoint, p Param, inPath map[string]int, seen map[string]bool) {
	bad := errs.bad
	if !paramNameRE.MatchString(p.Name) {
		bad("param name %q is not lower_snake", p.Name)
	}
	if seen[p.Name] {
		bad("param %q listed twice", p.Name)
	}
	seen[p.Name] = true
	if !validParamTypes[p.Type] {
		bad("param %q: unknown type %q", p.Name, p.Type)
	}
	if (p.Minimum != nil || p.Maximum != nil) && p.Type != "integer" && p.Type != "number" {
		bad("param %q: minimum and maximum are for numbers, not %s", p.Name, p.Type)
	}
	if p.Minimum != nil && p.Maximum != nil && *p.Minimum > *p.Maximum {
		bad("param %q: minimum above maximum", p.Name)
	}
	switch p.In {
	case InPath:
		if inPath[p.Name] != 1 {
			bad("path param %q has no single {%s} in %q", p.Name, p.Name, e.Path)
		}
		if !p.Required || p.Type != "string" {
			bad("path param %q must be a required string", p.Name)
		}
	case InQuery, InForm, InJSON:
	case InHeader:
		if p.Type == "object" || p.Type == "array" {
			bad("header param %q must be a scalar", p.Name)
		}
	default:
		bad("param %q: unknown location %q", p.Name, p.In)
	}
}

// PathParams returns the endpoint's path parameters in the order they
// appear in the catalog.
func (e *Endpoint) PathParams() []Param { return e.ParamsIn(InPath) }

// ParamsIn returns the endpoint's parameters that travel in the given place.
func (e *Endpoint) ParamsIn(in ParamIn) []Param {
	var out []Param
	for _, p := range e.Params {
		if p.In == in {
			out = append(out, p)
		}
	}
	return out
}

// Param finds a parameter by name.
func (e *Endpoint) Param(name string) (Param, bool) {
	for _, p := range e.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// SuccessStatus is the documented success status (200 unless stated).
func (e *Endpoint) SuccessStatus() int {
	if e.Status == 0 {
		return 200
	}
	return e.Status
}
