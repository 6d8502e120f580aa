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

// maxFuncLines is how long a function body (declared or literal) may be in
// any non-test file (issue 16): longer ones do several jobs a reader must
// hold at once.
const maxFuncLines = 60

// longFuncs are the functions allowed over the limit, named "file
// function", each with the reason. A new long function fails; so does an
// entry here that is no longer long, so the list only shrinks.
var longFuncs = map[string]string{
	// On the request path, tuned for speed by another engineer while this
	// limit was extended (round 4): split once that work has landed.
	"frame/client.go (*Client).Do":                     "request path: the retry loop, being tuned",
	"frame/transport.go (*attemptTransport).RoundTrip": "request path: signing and limits per attempt, being tuned",
	"frame/sim/handlers.go (*call).params":             "simulator per-request code, being tuned",
	"frame/sim/placement.go checkPlacement":            "simulator per-request check, being tuned",
	"frame/sim/sim.go (*Server).serveAPI":              "simulator per-request entry, being tuned",
	// Split into a function per kind, the caller's buffer escapes to the
	// heap (BenchmarkOutputs: 0 -> 1 allocation per record written).
	"internal/jsonvalue/append.go appendValue": "one type switch, kept whole so the journal writer does not allocate",
}

func TestNoLongFunctions(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, fn := range longFunctions(fset, f) {
			name := filepath.ToSlash(path) + " " + fn.name
			seen[name] = true
			if _, ok := longFuncs[name]; !ok {
				t.Errorf("%s: %s is %d lines; split it into named pieces (at most %d)", fset.Position(fn.pos), fn.name, fn.lines, maxFuncLines)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range longFuncs {
		if !seen[name] {
			t.Errorf("%s is listed as allowed over %d lines but is not (any more): remove it from longFuncs", name, maxFuncLines)
		}
	}
}

// longFunc is a function body over maxFuncLines.
type longFunc struct {
	name  string
	pos   token.Pos
	lines int
}

// longFunctions lists the declared functions and function literals of f
// whose bodies are over maxFuncLines; a literal is named after the
// function it is in.
func longFunctions(fset *token.FileSet, f *ast.File) []longFunc {
	var out []longFunc
	bodyLines := func(b *ast.BlockStmt) int {
		return fset.Position(b.Rbrace).Line - fset.Position(b.Lbrace).Line - 1
	}
	for _, decl := range f.Decls {
		outer := "package level"
		if fn, ok := decl.(*ast.FuncDecl); ok {
			if fn.Body == nil {
				continue
			}
			outer = funcName(fn)
			if n := bodyLines(fn.Body); n > maxFuncLines {
				out = append(out, longFunc{outer, fn.Pos(), n})
			}
		}
		ast.Inspect(decl, func(n ast.Node) bool {
			if lit, ok := n.(*ast.FuncLit); ok {
				if l := bodyLines(lit.Body); l > maxFuncLines {
					out = append(out, longFunc{"func literal in " + outer, lit.Pos(), l})
				}
			}
			return true
		})
	}
	return out
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
