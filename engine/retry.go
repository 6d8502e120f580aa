package engine

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/frameflow/frameflow/schema"
)

// Error classes a step's retry policy can name in `on:`. The CLI's Classify
// (frame.Classify) maps errors to these; anything it does not know is
// "error", which is never retried unless named.
const (
	ClassThrottled      = "throttled"
	ClassServerError    = "server_error"
	ClassNetwork        = "network"
	ClassTimeout        = "timeout"
	ClassOutcomeUnknown = "outcome_unknown" // a mutation may have happened: never retried
)

// DefaultRetryOn is what a retry policy retries when it names no classes.
var DefaultRetryOn = []string{ClassThrottled, ClassServerError, ClassNetwork}

// retryPolicy is the step retry layer: declared in YAML, it re-runs a whole
// step execution. It sits above the client's transport retries (few, fast,
// in frame) and beside task polling (task.wait); the three never multiply
// because each retries a different failure.
type retryPolicy struct {
	max         int
	exponential bool
	initial     time.Duration
	maxDelay    time.Duration
	jitter      bool
	on          []string
	attempt     time.Duration // per-attempt timeout (0: none)
}

func (c *compiler) policy(n *node) {
	r := n.step.Retry
	if r == nil {
		r = n.unit.defaults.Retry
	}
	n.timeout = n.step.Timeout
	if n.timeout == 0 {
		n.timeout = n.unit.defaults.Timeout
	}
	// Steps share the policy of the same declaration (most use the
	// defaults), so a node holds a pointer, not a copy.
	if c.policies == nil {
		c.policies = map[*schema.Retry]*retryPolicy{}
	}
	pol := c.policies[r]
	if pol == nil {
		p := makePolicy(r)
		pol = &p
		c.policies[r] = pol
	}
	n.retry = pol
}

func makePolicy(r *schema.Retry) retryPolicy {
	if r == nil {
		return retryPolicy{max: 1}
	}
	p := retryPolicy{max: r.MaxAttempts, exponential: r.Backoff != "constant", initial: r.InitialDelay, maxDelay: r.MaxDelay, jitter: r.Jitter, on: r.On, attempt: r.AttemptTimeout}
	if p.max <= 0 {
		p.max = 3
	}
	if p.initial <= 0 {
		p.initial = time.Second
	}
	if p.maxDelay <= 0 {
		p.maxDelay = 30 * time.Second
	}
	if p.maxDelay < p.initial {
		p.maxDelay = p.initial
	}
	if len(p.on) == 0 {
		p.on = DefaultRetryOn
	}
	return p
}

// retries says whether an error of class may be retried under p.
func (p retryPolicy) retries(class string) bool {
	if class == ClassOutcomeUnknown {
		return false
	}
	return slices.Contains(p.on, class)
}

// delay before attempt+1 (attempt counts from 1); the server's Retry-After
// wins when it asks for longer.
func (p retryPolicy) delay(attempt int, retryAfter time.Duration) time.Duration {
	d := p.initial
	if p.exponential {
		for i := 1; i < attempt && d < p.maxDelay; i++ {
			d *= 2
		}
	}
	if d > p.maxDelay {
		d = p.maxDelay
	}
	if p.jitter && d > 0 {
		// Full jitter in [d/2, d): spreads a fan-out's retries apart.
		d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	}
	if retryAfter > d {
		d = retryAfter
	}
	return d
}
