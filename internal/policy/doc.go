// Package policy appraises device posture with rules written in CEL.
//
// A policy is a YAML document (see docs/POLICY.md) of named string lists,
// duration parameters and rules. Each rule has a stable id, a CEL condition
// over the evidence facts, the AR4SI trust-vector category it speaks for, the
// tier it sets when it fires, and a title and remediation in zh-CN and en
// that a non-technical user can act on.
//
// [Load] compiles and type-checks every rule once; the resulting [Policy] is
// safe for concurrent use, and [Policy.Evaluate] turns one verified report
// into a tier, a 0–100 score, an EAR trust vector and the findings that
// explain them. [Default] is the policy Healthgate ships, embedded from
// default.yaml and tested against testdata/vectors.json.
//
// Conditions see the facts as typed objects with their JSON names
// (facts.firewall.enabled), so a misspelt field fails at load time. A fact
// group the agent could not collect is absent: has(facts.firewall) is false
// and, as with protocol buffers, reading through it yields zero values. Rules
// must therefore guard with has(); Load rejects a rule that fires or fails
// on a report that carries no facts at all.
package policy
