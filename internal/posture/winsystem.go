package posture

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The Windows collectors ask the device through a winSystem: WMI,
// the registry, the process list and the certificate stores. The
// collectors themselves (wincollect.go) and their decoders are
// OS-independent, so tests run them on any system against recorded
// Windows answers (testdata/windows/); winsystem_windows.go implements the
// real winSystem.

// winSystem is what the Windows collectors ask the device.
type winSystem interface {
	// wmi runs "SELECT <fields of the row struct> FROM class [WHERE where]"
	// in a WMI namespace (such as `root\SecurityCenter2`) and stores the
	// rows in dst, a pointer to a slice of structs whose exported fields
	// are named after WMI properties. A property the row does not have
	// leaves its field nil. Failures wrap errWMINamespace,
	// errWMIAccessDenied or errWMIClass when they mean that.
	wmi(ctx context.Context, namespace, class, where string, dst any) error
	// registry returns the values of a registry key, such as
	// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`: uint64 for DWORD
	// and QWORD values, string for SZ and EXPAND_SZ, []string for
	// MULTI_SZ; other types are left out. A missing key gives an error
	// wrapping errRegistryNotFound.
	registry(ctx context.Context, key string) (regValues, error)
	// processes lists the running processes.
	processes(ctx context.Context) ([]winProcess, error)
	// rootCertificates returns the DER encodings in the LocalMachine and
	// CurrentUser ROOT certificate stores, keyed by store.
	rootCertificates(ctx context.Context) (map[string][][]byte, error)
}

// Errors a winSystem wraps so collectors can tell why WMI or the
// registry did not answer.
var (
	errWMINamespace     = errors.New("wmi namespace does not exist")
	errWMIClass         = errors.New("wmi class does not exist")
	errWMIAccessDenied  = errors.New("access denied")
	errRegistryNotFound = errors.New("registry key not found")
)

// WMI answers (WBEM_E_* codes of WbemCli.h, and E_ACCESSDENIED) that the
// Windows winSystem turns into the errors above.
const (
	wbemAccessDenied     = 0x80041003
	wbemInvalidNamespace = 0x8004100E
	wbemInvalidClass     = 0x80041010
	wbemNotFound         = 0x80041002
	eAccessDenied        = 0x80070005
)

// wmiError maps a WMI HRESULT or SCODE to one of the errors above, or nil
// when it means something else.
func wmiError(code uint32) error {
	switch code {
	case wbemAccessDenied, eAccessDenied:
		return errWMIAccessDenied
	case wbemInvalidNamespace:
		return errWMINamespace
	case wbemInvalidClass, wbemNotFound:
		return errWMIClass
	}
	return nil
}

// Names of the WMI and COM failures a collector meets often enough to be
// worth a word in a report. Windows itself has no text for the WBEM codes
// (their messages live in wmiutils.dll, not the system message table).
var wmiCodeNames = map[uint32]string{
	0x80041001: "generic failure",               // WBEM_E_FAILED
	0x80041002: "not found",                     // WBEM_E_NOT_FOUND
	0x80041003: "access denied",                 // WBEM_E_ACCESS_DENIED
	0x8004100E: "invalid namespace",             // WBEM_E_INVALID_NAMESPACE
	0x80041010: "invalid class",                 // WBEM_E_INVALID_CLASS
	0x80041017: "invalid query",                 // WBEM_E_INVALID_QUERY
	0x80041032: "call cancelled",                // WBEM_E_CALL_CANCELLED
	0x80041033: "shutting down",                 // WBEM_E_SHUTTING_DOWN
	0x80043001: "timed out",                     // WBEM_E_TIMED_OUT (WMI scripting)
	0x80004001: "not implemented",               // E_NOTIMPL
	0x80070005: "access denied",                 // E_ACCESSDENIED
	0x80020005: "type mismatch",                 // DISP_E_TYPEMISMATCH
	0x80020009: "exception",                     // DISP_E_EXCEPTION
	0x800706BA: "the rpc server is unavailable", // RPC_S_SERVER_UNAVAILABLE
	0x80010108: "the object disconnected",       // RPC_E_DISCONNECTED
}

// wmiFailure describes a failed WMI call for a report, which keeps the
// reason short and stable: "error 0x80041017 (invalid query)". hr is
// the HRESULT of the call, scode the SCODE of the COM exception behind it
// (DISP_E_EXCEPTION), 0 without one, and description the exception's own
// text, "" without one. A code wmiError knows is wrapped in its error, so
// collectors can still tell why.
func wmiFailure(hr, scode uint32, description string) error {
	code := func(c uint32) string {
		if name := wmiCodeNames[c]; name != "" {
			return fmt.Sprintf("0x%08X (%s)", c, name)
		}
		return fmt.Sprintf("0x%08X", c)
	}
	text := "error " + code(hr)
	if scode != 0 && scode != hr {
		text += ", scode " + code(scode)
	}
	if d := strings.TrimSpace(description); d != "" && d != "<nil>" {
		text += ": " + d
	}
	for _, c := range []uint32{scode, hr} {
		if mapped := wmiError(c); mapped != nil {
			return fmt.Errorf("%w: %s", mapped, text)
		}
	}
	return errors.New(text)
}

// regValues are the values of one registry key, by name. Windows compares
// value names without regard to case; so do the accessors.
type regValues map[string]any

// get returns the value called name, matching case-insensitively.
func (r regValues) get(name string) (any, bool) {
	if v, ok := r[name]; ok {
		return v, true
	}
	for k, v := range r {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// uint returns a numeric value. A string value holding a decimal number
// counts too: many settings (ScreenSaveActive, ScreenSaveTimeOut) are
// numbers stored as REG_SZ.
func (r regValues) uint(name string) (uint64, bool) {
	v, ok := r.get(name)
	if !ok {
		return 0, false
	}
	switch v := v.(type) {
	case uint64:
		return v, true
	case string:
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// string returns a string value, trimmed of spaces and NULs.
func (r regValues) string(name string) (string, bool) {
	v, ok := r.get(name)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return strings.TrimSpace(strings.TrimRight(s, "\x00")), ok
}

// Registry keys the Windows collectors read.
const (
	regCurrentVersion  = `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`
	regFirewallPolicy  = `HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy`
	regFirewallGPO     = `HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall`
	regSecureBootState = `HKLM\SYSTEM\CurrentControlSet\Control\SecureBoot\State`
	regSystemPolicies  = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System`
	regUserInternet    = `HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings`
	regMachineInternet = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings`
	regInternetPolicy  = `HKLM\SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings`
	regDesktop         = `HKCU\Control Panel\Desktop`
	regDesktopPolicy   = `HKCU\Software\Policies\Microsoft\Windows\Control Panel\Desktop`
)

// WMI namespaces and classes the Windows collectors query.
const (
	wmiSecurityCenter = `root\SecurityCenter2`
	wmiCIMV2          = `root\CIMV2`
	wmiVolumeEncrypt  = `root\CIMV2\Security\MicrosoftVolumeEncryption`
)
