package posture

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// Windows Security Center (WSC) registers the antivirus, antispyware and
// firewall products of a Windows client and publishes them over WMI in
// root\SecurityCenter2 (AntiVirusProduct, AntiSpywareProduct,
// FirewallProduct). This file decodes those rows; it is OS-independent so
// it is tested on every system against the recorded answers in
// testdata/windows/.

// wscProduct is one row of a SecurityCenter2 product class. Fields are
// pointers so that a property WMI did not return stays nil; the names are
// the WMI property names (WMI and encoding/json both match them without
// regard to case).
type wscProduct struct {
	DisplayName  *string
	ProductState *uint32
	Timestamp    *string
}

// productState is a decoded WSC productState.
//
// Microsoft does not document the productState property. Its layout is the
// one observed by the public write-ups, which agree with each other and
// with the values Windows reports:
//
//   - https://mcpforlife.com/2020/04/14/how-to-resolve-this-state-value-of-av-providers/
//   - https://homotechsual.dev/2022/10/05/Monitoring-AV-PowerShell/ ("more
//     accurate interpretation", 2023)
//   - PowerShell Team tip "Identifying Antivirus Engine State"
//     (community.idera.com, powertips)
//
// Read as the hex digits 0xPPSOGG:
//
//   - PP (bits 16–23): the WSC_SECURITY_PROVIDER flags of the product
//     (iwscapi.h: FIREWALL 0x1, AUTOUPDATE_SETTINGS 0x2, ANTIVIRUS 0x4,
//     ANTISPYWARE 0x8, INTERNET_SETTINGS 0x10, USER_ACCOUNT_CONTROL 0x20,
//     SERVICE 0x40);
//   - S (bits 12–15): the scanner state, 0 off, 1 on, 2 snoozed, 3 expired
//     (the four states of iwscapi.h's WSC_SECURITY_PRODUCT_STATE, whose own
//     enum values are ON 0, OFF 1, SNOOZED 2, EXPIRED 3 and are not the
//     bits stored here);
//   - O (bits 8–11): the owner, 1 for Microsoft's own products (Defender,
//     Windows Firewall), 0 for third parties;
//   - G (bits 4–7): the signatures, 0 up to date, 1 out of date (iwscapi.h's
//     WSC_SECURITY_SIGNATURE_STATUS, again with its own enum values
//     OUT_OF_DATE 0, UP_TO_DATE 1).
//
// So 0x061100 (397568) is Defender on and current, 0x060100 (393472)
// Defender off, 0x041010 (266256) a third-party product on with stale
// signatures. An older reading takes the middle byte as a whole (0x10 on,
// 0x00 off, 0x01 snoozed, 0x11 expired); it calls Defender's ordinary
// 0x061100 "expired", which is why the nibbles are read separately here.
type productState struct {
	Providers         uint8  // WSC_SECURITY_PROVIDER flags
	State             string // "on", "off", "snoozed", "expired"; "" for an unknown value
	Microsoft         bool
	SignaturesCurrent bool
}

// productState masks and values.
const (
	wscStateMask      = 0xF000
	wscStateOff       = 0x0000
	wscStateOn        = 0x1000
	wscStateSnoozed   = 0x2000
	wscStateExpired   = 0x3000
	wscOwnerMask      = 0x0F00
	wscOwnerMicrosoft = 0x0100
	wscSignatureMask  = 0x00F0
	wscSignatureStale = 0x0010
)

// decodeProductState decodes a WSC productState. A scanner state outside
// the four known ones leaves State empty.
func decodeProductState(v uint32) productState {
	ps := productState{
		Providers:         uint8(v >> 16),
		Microsoft:         v&wscOwnerMask == wscOwnerMicrosoft,
		SignaturesCurrent: v&wscSignatureMask != wscSignatureStale,
	}
	switch v & wscStateMask {
	case wscStateOff:
		ps.State = "off"
	case wscStateOn:
		ps.State = "on"
	case wscStateSnoozed:
		ps.State = "snoozed"
	case wscStateExpired:
		ps.State = "expired"
	}
	return ps
}

// wscTimestamp parses the timestamp property of a SecurityCenter2 row:
// the time the product last reported its state to Security Center, which
// products do at least on every signature update. Windows writes it in
// RFC 1123 form ("Wed, 20 Nov 2024 08:15:32 GMT"); ok is false for
// anything else and for times more than a day after now.
func wscTimestamp(s string, now time.Time) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return t, notFuture(t, now)
		}
	}
	return time.Time{}, false
}

// Limits on Security Center rows: products a report carries per class.
const maxWSCProducts = 32

// errWSCRow says a SecurityCenter2 row lacks a property every product has.
var errWSCRow = errors.New("security center row without displayName or productState")

// decodeAntivirusProduct turns one AntiVirusProduct or AntiSpywareProduct
// row into a product.
func decodeAntivirusProduct(row wscProduct, now time.Time) (evidence.AntivirusProduct, error) {
	if row.DisplayName == nil || row.ProductState == nil || strings.TrimSpace(*row.DisplayName) == "" {
		return evidence.AntivirusProduct{}, errWSCRow
	}
	ps := decodeProductState(*row.ProductState)
	p := evidence.AntivirusProduct{
		Name:              clean(strings.TrimSpace(*row.DisplayName)),
		Enabled:           ps.State == "on",
		State:             ps.State,
		SignaturesCurrent: &ps.SignaturesCurrent,
		Microsoft:         &ps.Microsoft,
	}
	if row.Timestamp != nil {
		if t, ok := wscTimestamp(*row.Timestamp, now); ok {
			p.SignaturesUpdated = &t
		}
	}
	return p, nil
}

// decodeAntivirus builds the antivirus facts from Security Center's
// AntiVirusProduct and AntiSpywareProduct rows. A row without a name or a
// productState makes the whole group unknown: guessing would report a
// product as off (or on) that Windows did not describe.
func decodeAntivirus(av, spyware []wscProduct, now time.Time) (*evidence.AntivirusFacts, error) {
	facts := &evidence.AntivirusFacts{Products: []evidence.AntivirusProduct{}}
	for i, row := range av {
		if i == maxWSCProducts {
			break
		}
		p, err := decodeAntivirusProduct(row, now)
		if err != nil {
			return nil, fmt.Errorf("AntiVirusProduct: %w", err)
		}
		facts.Products = append(facts.Products, p)
	}
	for i, row := range spyware {
		if i == maxWSCProducts {
			break
		}
		p, err := decodeAntivirusProduct(row, now)
		if err != nil {
			return nil, fmt.Errorf("AntiSpywareProduct: %w", err)
		}
		facts.Antispyware = append(facts.Antispyware, p)
	}
	return facts, nil
}

// decodeFirewallProducts turns Security Center's FirewallProduct rows
// (third-party firewalls; Windows Firewall itself is not listed) into
// products. Rows without a name or a productState are skipped: the
// Windows Firewall profiles still say whether the device is protected.
func decodeFirewallProducts(rows []wscProduct) []evidence.SecurityProduct {
	var out []evidence.SecurityProduct
	for _, row := range rows {
		if len(out) == maxWSCProducts {
			break
		}
		if row.DisplayName == nil || row.ProductState == nil || strings.TrimSpace(*row.DisplayName) == "" {
			continue
		}
		ps := decodeProductState(*row.ProductState)
		out = append(out, evidence.SecurityProduct{
			Name:    clean(strings.TrimSpace(*row.DisplayName)),
			Enabled: ps.State == "on",
			State:   ps.State,
		})
	}
	return out
}

// wscUnavailable explains why Security Center could not be asked. Windows
// Server has no Security Center (root\SecurityCenter2 does not exist on
// server SKUs), so on a server the reason says that instead of the WMI
// error. installationType is the InstallationType value of
// HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion ("Client", "Server",
// "Server Core"; "" when unknown).
func wscUnavailable(installationType string, err error) error {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(installationType)), "server") {
		return errors.New("windows security center does not exist on windows server editions")
	}
	if errors.Is(err, errWMINamespace) {
		return errors.New("windows security center is not available (no root\\SecurityCenter2 namespace)")
	}
	return fmt.Errorf("asking windows security center: %w", err)
}
