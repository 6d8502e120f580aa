package schema_test

import (
	"testing"

	"github.com/frameflow/frameflow/schema"
)

func TestSortDiagnostics(t *testing.T) {
	ds := schema.Diagnostics{
		{Pos: schema.Pos{File: "b", Line: 1, Col: 1}, Message: "x"},
		{Pos: schema.Pos{File: "a", Line: 2, Col: 1}, Message: "x"},
		{Pos: schema.Pos{File: "a", Line: 1, Col: 5}, Message: "b"},
		{Pos: schema.Pos{File: "a", Line: 1, Col: 5}, Message: "a"},
		{Pos: schema.Pos{File: "a", Line: 1, Col: 2}, Message: "z"},
	}
	schema.SortDiagnostics(ds)
	want := "a:1:2: z\na:1:5: a\na:1:5: b\na:2:1: x\nb:1:1: x"
	if ds.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", ds.Error(), want)
	}
}
