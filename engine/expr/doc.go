// Package expr wraps expr-lang for frameflow: `${{ ... }}` templates,
// reference checking against declared shapes (with did-you-mean), and
// evaluation that propagates unknown values instead of failing on them.
//
// Every expression is parsed, checked and compiled once; the compiled
// programs are immutable and shared by every goroutine that evaluates them.
//
// May import: internal/suggest. Never schema: positions are the caller's.
package expr
