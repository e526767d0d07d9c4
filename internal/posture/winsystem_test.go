package posture

import (
	"errors"
	"testing"
)

// TestWMIFailure checks the reasons a failed WMI call leaves in a report.
// The library's own text for them was "error 2147614725 (FormatMessage
// failed with: Message 0x%1 not found in file %2.) (<nil>)": Windows has
// no message for the WBEM codes, and under Wine none for DISP_E_* either.
func TestWMIFailure(t *testing.T) {
	tests := []struct {
		name        string
		hr, scode   uint32
		description string
		want        string
		is          error // nil: none of errWMINamespace, errWMIClass, errWMIAccessDenied
	}{
		// Wine 8's SWbemLocator.ConnectServer refuses a VT_NULL server.
		{"type mismatch", 0x80020005, 0, "", "error 0x80020005 (type mismatch)", nil},
		{"go-ole's empty description", 0x80020005, 0, "<nil>", "error 0x80020005 (type mismatch)", nil},
		{"exception with a wbem scode and text", 0x80020009, 0x8004100E, "SWbemLocator: Invalid namespace ",
			"wmi namespace does not exist: error 0x80020009 (exception), scode 0x8004100E (invalid namespace): SWbemLocator: Invalid namespace", errWMINamespace},
		{"access denied as hresult", 0x80041003, 0, "", "access denied: error 0x80041003 (access denied)", errWMIAccessDenied},
		{"class not found", 0x80020009, 0x80041010, "", "wmi class does not exist: error 0x80020009 (exception), scode 0x80041010 (invalid class)", errWMIClass},
		{"unnamed code", 0x80041099, 0, "", "error 0x80041099", nil},
		{"same scode as hresult", 0x80041017, 0x80041017, "", "error 0x80041017 (invalid query)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wmiFailure(tt.hr, tt.scode, tt.description)
			if got := err.Error(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			for _, e := range []error{errWMINamespace, errWMIClass, errWMIAccessDenied} {
				if got, want := errors.Is(err, e), e == tt.is; got != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, e, got, want)
				}
			}
		})
	}
}
