package suggest

import (
	"fmt"
	"strings"
)

// Closest returns the candidate closest to name by edit distance (ignoring
// case), or "" when none is close enough to be a plausible typo. Ties go to
// the candidate listed first. Format it with DidYouMean.
func Closest(name string, candidates []string) string {
	if name == "" {
		return ""
	}
	lname := strings.ToLower(name)
	// Allow about one edit per three characters, at least one and at most three.
	limit := len([]rune(name)) / 3
	limit = max(1, min(limit, 3))
	best, bestDist, bestExact := "", limit+1, 0
	for _, c := range candidates {
		if c == name {
			continue
		}
		d := editDistance(lname, strings.ToLower(c))
		if d > limit {
			continue
		}
		// Among equally close candidates prefer the one matching the case.
		exact := editDistance(name, c)
		if d < bestDist || (d == bestDist && exact < bestExact) {
			best, bestDist, bestExact = c, d, exact
		}
	}
	return best
}

// DidYouMean returns ` (did you mean "x"?)` for the closest candidate, or ""
// when nothing is close. It is meant to end a message.
func DidYouMean(name string, candidates []string) string {
	if s := Closest(name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// editDistance is the optimal string alignment distance (Levenshtein plus
// transpositions, which are the commonest typo).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Long names are not typos of each other worth suggesting; keep the
		// cost bounded on hostile input.
		if a == b {
			return 0
		}
		return 1 << 20
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
