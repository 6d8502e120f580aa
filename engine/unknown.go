package engine

import xexpr "github.com/frameflow/frameflow/engine/expr"

// UnknownValue marks Unknown for engine/expr, which cannot import this
// package: expressions that read it evaluate to it.
func (unknownValue) UnknownValue() {}

var _ xexpr.Unknowner = unknownValue{}
