package cli

import (
	"net/url"
	"strings"

	"github.com/frameflow/frameflow/frame"
)

// apiPathArg accepts what `frameflow api get` is given: a path under the
// API base ("/accounts"), or a full URL under the configured base (copied
// from a browser or the docs), which becomes its path. A URL elsewhere is
// refused: requests are signed for the configured API only. api is the
// --api flag: v1alpha URLs are under the v1alpha base.
func (a *app) apiPathArg(arg, api string) (string, error) {
	lower := strings.ToLower(arg)
	if !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "http://") {
		return arg, nil
	}
	c, err := a.newClient(clientOptions{})
	if err != nil {
		return "", err
	}
	base := c.BaseURL()
	if api == frame.APIv1Alpha {
		base = frame.V1AlphaURLFor(base)
	}
	return pathUnderBase(base, arg)
}

func pathUnderBase(base, raw string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", usageErr("API base URL %q: %v", base, err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", usageErr("%q is not a URL: %v", raw, err)
	}
	basePath := strings.TrimSuffix(b.Path, "/")
	if !strings.EqualFold(u.Scheme, b.Scheme) || !strings.EqualFold(u.Host, b.Host) ||
		(u.Path != basePath && !strings.HasPrefix(u.Path, basePath+"/")) {
		return "", usageErr("%s is not under the configured API base %s; give a path (/accounts) or a URL under that base (set another with --api-url)", raw, base)
	}
	p := strings.TrimPrefix(u.Path, basePath)
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, nil
}
