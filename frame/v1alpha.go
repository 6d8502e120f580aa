package frame

import (
	"fmt"
	"strings"
)

// DefaultV1AlphaURL is the documented base of the v1alpha web API
// (002: "GET https://api.fra.me/v1alpha/accounts/"), signed like v1.
const DefaultV1AlphaURL = "https://api.fra.me/v1alpha"

// EnvV1AlphaURL overrides the v1alpha base URL.
const EnvV1AlphaURL = "FRAME_API_V1ALPHA_URL"

// V1AlphaURLFor derives the v1alpha base from the v1 base: the documented
// v1 host has a documented v1alpha host of its own (api.fra.me); any other
// base (a simulator, a proxy) serves v1alpha next to v1, so a final /v1 is
// replaced by /v1alpha. EnvV1AlphaURL is for when neither holds.
func V1AlphaURLFor(v1 string) string {
	v1 = strings.TrimSuffix(v1, "/")
	if v1 == "" || v1 == DefaultBaseURL {
		return DefaultV1AlphaURL
	}
	if strings.HasSuffix(v1, "/v1") {
		return strings.TrimSuffix(v1, "/v1") + "/v1alpha"
	}
	return v1 + "/v1alpha"
}

// WithV1AlphaURL returns a copy of c that sends v1alpha requests under
// base (checked like the v1 base URL). The copy shares c's connections,
// rate limit and in-flight limit.
func (c *Client) WithV1AlphaURL(base string) (*Client, error) {
	u, err := checkBaseURL(base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvV1AlphaURL, err)
	}
	cp := *c
	cp.alphaBase = u
	return &cp, nil
}

// V1AlphaURL is the base v1alpha requests are sent under.
func (c *Client) V1AlphaURL() string { return c.alphaBase.String() }

// WithV1AlphaEnv applies EnvV1AlphaURL from getenv when it is set, and
// returns c unchanged otherwise (the base derived from the v1 URL stays).
func (c *Client) WithV1AlphaEnv(getenv func(string) string) (*Client, error) {
	if getenv == nil {
		return c, nil
	}
	if u := getenv(EnvV1AlphaURL); u != "" {
		return c.WithV1AlphaURL(u)
	}
	return c, nil
}
