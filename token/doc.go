// Package token is what a relying party (a payment platform, a merchant, a
// bank) needs to check a Healthgate health certificate offline.
//
// A health certificate is an EAR (EAT Attestation Result,
// draft-ietf-rats-ear) JWT: a compact JWS signed with EdDSA (Ed25519) by a
// key of the Healthgate server, published with its kid in the server's JWKS
// at /.well-known/jwks.json. Its claims, Claims, say how healthy the device
// was when it was appraised (the AR4SI tier of the one submodule "device"),
// which device it is (sub), which device key it is bound to (cnf.jkt, an
// RFC 7638 thumbprint) and until when it may be relied on (exp).
//
// Verify checks a certificate against a KeySource: ParseJWKS reads a JWKS
// from a file, NewRemoteJWKS fetches and caches the server's JWKS over
// HTTPS. Verify pins the algorithm to EdDSA with Ed25519 keys whatever the
// token says, and returns the claims only when the signature, the claim
// shape and the validity period all check out. Its errors wrap ErrMalformed,
// ErrAlgorithm, ErrUnknownKey, ErrSignature, ErrExpired, ErrNotYetValid or
// ErrClaims so that callers can tell them apart with errors.Is.
//
// Certificates are ordinary JWTs: any JOSE library that does EdDSA verifies
// them too, and github.com/veraison/ear and its arc tool read them as EAR.
package token
