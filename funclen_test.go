package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is how long a function body in steps/, runner/, engine/,
// schema/ and plan/ may be (issue 16): longer ones do several jobs a reader must hold at once.
const maxFuncLines = 60

// longFuncs are the functions allowed over the limit, named "file
// function", each with the reason. A new long function fails.
var longFuncs = map[string]bool{}

func TestNoLongFunctions(t *testing.T) {
	for _, dir := range []string{"steps", "runner", "engine", "schema", "plan"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				lines := fset.Position(fn.Body.Rbrace).Line - fset.Position(fn.Body.Lbrace).Line - 1
				name := filepath.ToSlash(path) + " " + funcName(fn)
				if lines > maxFuncLines && !longFuncs[name] {
					t.Errorf("%s: %s is %d lines; split it into named pieces (at most %d)", fset.Position(fn.Pos()), funcName(fn), lines, maxFuncLines)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// funcName is "F" or "(*T).M".
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	recv := fn.Recv.List[0].Type
	star := ""
	if s, ok := recv.(*ast.StarExpr); ok {
		star, recv = "*", s.X
	}
	switch r := recv.(type) {
	case *ast.IndexExpr:
		recv = r.X
	case *ast.IndexListExpr:
		recv = r.X
	}
	id, _ := recv.(*ast.Ident)
	if id == nil {
		return fn.Name.Name
	}
	return "(" + star + id.Name + ")." + fn.Name.Name
}
