package cli

import (
	"github.com/frameflow/frameflow/frame"
)

// clientOptions tune the API client for one command.
type clientOptions struct {
	readOnly  bool
	onRequest func(frame.RequestInfo)
}

// newClient builds the signed API client from flags and the environment,
// through the application layer (which registers the secret with the
// redactor before anything can print it).
func (a *app) newClient(o clientOptions) (*frame.Client, error) {
	c, err := a.service().Client(o.readOnly, o.onRequest)
	if err != nil {
		return nil, withCode(ExitInvalid, err)
	}
	// v1alpha requests go to a base derived from the v1 URL unless
	// FRAME_API_V1ALPHA_URL says otherwise (frame.V1AlphaURLFor).
	if c, err = c.WithV1AlphaEnv(a.getenv); err != nil {
		return nil, withCode(ExitInvalid, err)
	}
	return c, nil
}
