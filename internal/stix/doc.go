// Package stix implements the part of STIX 2.1 (OASIS, 2021) that
// Healthgate exchanges with partner organisations: indicator, malware,
// sighting, identity, relationship and marking-definition objects, bundles,
// a strict validator for objects that arrive from outside, and a parser for
// the STIX patterning language.
//
// Names follow the package's trust rule: Validate checks an object received
// from a partner and returns it only when it conforms; the New* helpers
// build objects Healthgate produces and refuse to build invalid ones (a
// sighting below the k-anonymity threshold, for example).
package stix
