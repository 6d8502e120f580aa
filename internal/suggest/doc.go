// Package suggest finds the name a typo probably meant: one rule for the
// whole tool (the loader, expressions, inputs), so a typo reads the same
// wherever it is found.
//
// May import: the standard library only.
package suggest
