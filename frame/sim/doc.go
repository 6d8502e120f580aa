// Package sim is a local stand-in for the Nutanix Frame Admin API (v1):
// signed requests, accounts, pools, sandboxes, clone, publish, elasticity
// and asynchronous tasks, with injectable faults. It is an independent
// description of the API: it reads the endpoint catalog as data for
// endpoints it does not model, and never uses the client's signing or
// request code, so that a bug in the client cannot hide behind the same bug
// here.
//
// May import: frame (the endpoint catalog, as data) only.
package sim
