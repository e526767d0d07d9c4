package token

// BoundTo reports whether the certificate is bound to the device key with
// the RFC 7638 thumbprint jkt, i.e. whether cnf.jkt equals it. A relying
// party that sees the device prove possession of its key (for instance a
// signature over the transaction) checks this to know that the certificate
// was not lifted from another device.
func (c *Claims) BoundTo(jkt string) bool {
	return jkt != "" && c.Confirmation.JKT == jkt
}
