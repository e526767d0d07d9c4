// Package demo runs Healthgate's walkthrough on loopback: the health
// service, simulated devices with their agents, and a demo merchant whose
// checkout page uses the checkout SDK. `healthgate demo` and the browser
// end-to-end test both start it.
package demo
