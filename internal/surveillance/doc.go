// Package surveillance turns device sightings into public-health style
// figures without keeping who saw what.
//
// It holds only pure building blocks; storage and HTTP live elsewhere:
//
//   - [DayCounter] counts distinct devices per (day, indicator, region) under
//     a per-day random salt that [DayCounter.CloseDay] throws away, so a
//     closed day's counts cannot be linked back to any device.
//   - [Prevalence], [Incidence] and [ComputeCCM] turn daily counts into rates,
//     the last one being the Microsoft Security Intelligence Report's
//     "computers cleaned per mille", split by protected and unprotected
//     devices.
//   - [EARS] runs the CDC Early Aberration Reporting System C1, C2 and C3
//     statistics over a daily series, as implemented by earsC in the R
//     surveillance package; [GrowthConfig.Check] flags a new executable hash
//     or domain spreading quickly across devices.
//   - [KAnon] and [Releaser] decide what may leave the operator's own
//     dashboard: a count goes out only with at least k devices behind it,
//     optionally with Laplace noise.
//
// Time and randomness are injected everywhere, so every figure is
// reproducible in tests. docs/PRIVACY.md gives the threat model these parts
// serve.
package surveillance
