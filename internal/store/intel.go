package store

// IntelStore persists threat intelligence: indicators, anonymised
// sightings and their daily aggregates, and the protective feed.
type IntelStore interface {
}
