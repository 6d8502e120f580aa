package frame

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// The catalog is data: catalog.json lists every documented Admin API
// endpoint. Steps, the workflow schema, the simulator and the docs read it
// rather than hand-written code per endpoint.

//go:embed catalog.json
var catalogJSON []byte

var (
	catalogOnce   sync.Once
	catalogList   []Endpoint
	catalogByName map[string]*Endpoint
	catalogErr    error
)

func loadCatalog() {
	var eps []Endpoint
	if err := json.Unmarshal(catalogJSON, &eps); err != nil {
		catalogErr = fmt.Errorf("frame: embedded catalog.json: %w", err)
		return
	}
	catalogByName = make(map[string]*Endpoint, len(eps))
	for i := range eps {
		e := &eps[i]
		if _, dup := catalogByName[e.Name]; dup {
			catalogErr = fmt.Errorf("frame: catalog.json: duplicate endpoint name %q", e.Name)
			return
		}
		catalogByName[e.Name] = e
	}
	sort.SliceStable(eps, func(i, j int) bool { return eps[i].Name < eps[j].Name })
	catalogList = eps
	// Pointers into eps were taken before sorting; rebuild the index.
	for i := range catalogList {
		catalogByName[catalogList[i].Name] = &catalogList[i]
	}
}

// Catalog returns every endpoint, sorted by name. The slice is shared: do
// not modify it.
func Catalog() []Endpoint {
	catalogOnce.Do(loadCatalog)
	if catalogErr != nil {
		panic(catalogErr) // the embedded file is checked by tests
	}
	return catalogList
}

// LookupEndpoint finds an endpoint by its stable name.
func LookupEndpoint(name string) (*Endpoint, bool) {
	Catalog()
	e, ok := catalogByName[name]
	return e, ok
}
