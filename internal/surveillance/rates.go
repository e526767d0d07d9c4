package surveillance

import (
	"errors"
	"fmt"
)

// Prevalence is the share of reporting devices that had a finding on one
// day: withFinding / reporting, between 0 and 1. Both numbers come from the
// same closed day and region of a [DayCounter]: Sightings[key].Devices and
// Reporting[region].Devices.
func Prevalence(withFinding, reporting int) (float64, error) {
	if err := checkPart(withFinding, reporting); err != nil {
		return 0, fmt.Errorf("prevalence: %w", err)
	}
	return float64(withFinding) / float64(reporting), nil
}

// Incidence is the share of reporting devices on which a finding was new
// on one day: newDevices / reporting, between 0 and 1.
//
// "New" means first seen on that device within the incidence window, and
// the service cannot tell that itself without keeping identities across
// days, which [DayCounter] is built not to do. So the question is answered
// where the history already is: the agent keeps, on the device, the
// indicators it has seen in the last window (30 days is the intended
// default) and flags a finding New when it is absent from that history
// ([Finding.New]). newDevices is then Sightings[key].New of a closed day.
// The flag comes inside the signed report, so it is as trustworthy as the
// rest of the device's evidence, and no more: a reinstalled agent forgets
// its history and reports old findings as new again.
func Incidence(newDevices, reporting int) (float64, error) {
	if err := checkPart(newDevices, reporting); err != nil {
		return 0, fmt.Errorf("incidence: %w", err)
	}
	return float64(newDevices) / float64(reporting), nil
}

func checkPart(part, whole int) error {
	switch {
	case whole <= 0:
		return fmt.Errorf("denominator %d is not positive", whole)
	case part < 0:
		return fmt.Errorf("numerator %d is negative", part)
	case part > whole:
		return fmt.Errorf("numerator %d exceeds denominator %d", part, whole)
	}
	return nil
}

// CCM is "computers cleaned per mille", the infection rate of the Microsoft
// Security Intelligence Report: devices cleaned for every 1,000 devices
// scanned, 1000 × cleaned / scanned. In the report "scanned" meant computers
// that ran the Malicious Software Removal Tool in the period and "cleaned"
// those from which it removed malware; here scanned is the number of
// distinct devices that sent a health report with a completed malware scan,
// and cleaned is the number of those whose report shows malware removed or
// quarantined in that scan. Both are distinct-device counts over the same
// day; a figure for a longer period is the mean of the daily figures,
// because distinct devices cannot be added across days without identities.
func CCM(cleaned, scanned int) (float64, error) {
	if err := checkPart(cleaned, scanned); err != nil {
		return 0, fmt.Errorf("ccm: %w", err)
	}
	return 1000 * float64(cleaned) / float64(scanned), nil
}

// Tally is the input of one CCM group.
type Tally struct {
	Scanned int // distinct devices with a completed malware scan
	Cleaned int // of those, devices on which the scan removed malware
}

// CCMInput splits a day's scanned and cleaned devices the way the Security
// Intelligence Report did from volume 14 on: a device is Protected when, at
// the time of the scan, it was running real-time antimalware software that
// was switched on and up to date (posture facts antivirus enabled and
// signatures current), and Unprotected otherwise, including devices running
// antimalware with out-of-date signatures.
type CCMInput struct {
	Protected   Tally
	Unprotected Tally
}

// Figure is a number that may be undefined because its group was empty:
// per mille for a CCM, a plain ratio for a relative risk.
type Figure struct {
	Value   float64
	Defined bool
}

// CCMReport is the CCM of all devices and of each group. RelativeRisk is
// Unprotected / Protected, how many times more often unprotected devices
// needed cleaning (the report's "5.5 times more likely" figure for 2H12); it
// is undefined when either is undefined or Protected is zero.
type CCMReport struct {
	Overall, Protected, Unprotected Figure
	RelativeRisk                    Figure
}

// ComputeCCM computes the overall and per-group CCM. An empty group gives an
// undefined figure, not an error; a group with more cleaned than scanned
// devices, or negative numbers, is an error; so is a day with no scans.
func ComputeCCM(in CCMInput) (CCMReport, error) {
	var out CCMReport
	var errs []error
	group := func(name string, t Tally) Figure {
		if t.Scanned == 0 && t.Cleaned == 0 {
			return Figure{}
		}
		v, err := CCM(t.Cleaned, t.Scanned)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return Figure{}
		}
		return Figure{Value: v, Defined: true}
	}
	out.Protected = group("protected", in.Protected)
	out.Unprotected = group("unprotected", in.Unprotected)
	if err := errors.Join(errs...); err != nil {
		return CCMReport{}, err
	}
	scanned := in.Protected.Scanned + in.Unprotected.Scanned
	if scanned == 0 {
		return CCMReport{}, errors.New("ccm: no devices scanned")
	}
	out.Overall = Figure{Value: 1000 * float64(in.Protected.Cleaned+in.Unprotected.Cleaned) / float64(scanned), Defined: true}
	if out.Protected.Defined && out.Unprotected.Defined && out.Protected.Value > 0 {
		out.RelativeRisk = Figure{Value: out.Unprotected.Value / out.Protected.Value, Defined: true}
	}
	return out, nil
}
