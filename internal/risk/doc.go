// Package risk decides what a relying party should do with one transaction:
// allow, warn, step_up or deny. A CEL policy in YAML (an embedded default,
// or a custom file) maps Signals — device health from the certificate,
// account/device history, velocity, intel — to an outcome and stable reason
// codes; Tracker keeps the bounded in-memory sliding windows behind the
// velocity signals. Policies ship with JSON test vectors, like the health
// policy in internal/policy.
package risk
