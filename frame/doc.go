// Package frame is the Nutanix Frame Admin API client: request signing
// (HMAC-SHA256 of timestamp and client id), transport retries of requests
// the server refused, errors that carry method, path, status and the
// server's message, the classification of failures (throttled, invalid,
// outcome unknown, ...), and the endpoint catalog (every documented
// endpoint with its parameters and limits, as data).
//
// A read-only client, or a context from WithReadOnly, refuses anything but
// reads locally: plans cannot send a mutation even by mistake.
//
// May import: nothing of this module. It knows no workflow.
package frame
