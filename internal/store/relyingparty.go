package store

// RelyingPartyStore persists relying parties (payment platforms), their API
// keys and the transaction decisions made for them.
type RelyingPartyStore interface {
}
