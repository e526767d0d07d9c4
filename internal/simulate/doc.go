// Package simulate runs a fleet of simulated devices against an in-process
// Healthgate service on a simulated clock: every device is a real
// agent.Agent (enrolment, challenge, Ed25519-signed evidence, submit) whose
// facts come from a seeded population model instead of a file tree, and a
// new executable spreads through the fleet from a chosen day so that
// surveillance has an outbreak to find. Runs are deterministic for a seed.
package simulate
