// Package client is the Go client of the Healthgate decision API, for
// relying parties (payment platforms, merchants, banks).
//
// A relying party gets an API key from the operator (`healthgate rp
// create NAME`), sends each transaction with the device's health
// certificate and, when the page has one, the device's proof of possession,
// and acts on the outcome: allow, warn (show Message and Remediation, let
// the person go on), step_up (ask for more proof, such as an SMS code) or
// deny (show Message). Later it reports what became of the transaction with
// Feedback.
//
// Errors the service answers are *Error values with the HTTP status and a
// stable code; errors.Is(err, ErrUnauthorized) and friends test the common
// ones. A decision is never made up on the client side: on any error the
// caller must fall back to its own policy (typically step_up).
package client
