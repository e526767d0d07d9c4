package devicekey

import (
	"crypto/ed25519"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// TestKeyFileDACL is the Windows counterpart of
// TestFileKeyPersistsWithOwnerOnlyMode, on the real security APIs. It
// needs real Windows: Wine keeps no DACL on files but makes one up from
// the Unix mode bits (docs/WINDOWS.md), so test/wine checks the agent's
// key file end to end instead.
func TestKeyFileDACL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "device.key")
	k1, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	user, err := processUser()
	if err != nil {
		t.Fatal(err)
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("new key file: %v", sd)
	if ctl, _, err := sd.Control(); err != nil || ctl&windows.SE_DACL_PROTECTED == 0 {
		t.Errorf("key file DACL is not protected from inheritance (control %#x, %v)", ctl, err)
	}
	d, err := readDACL(sd)
	if err != nil {
		t.Fatal(err)
	}
	if d.Owner != user {
		t.Errorf("key file owner = %s, want the process user %s", d.Owner, user)
	}
	var sids []string
	for _, e := range d.Entries {
		if e.Type != aceAllowed || e.Flags != 0 || e.Mask != 0x001F01FF {
			t.Errorf("unexpected entry %+v", e)
		}
		sids = append(sids, e.SID)
	}
	want := []string{sidSystem, sidAdministrators}
	if user != sidSystem {
		want = append(want, user)
	}
	slices.Sort(sids)
	slices.Sort(want)
	if got := strings.Join(sids, " "); got != strings.Join(want, " ") {
		t.Errorf("key file grants %s, want %s", got, strings.Join(want, " "))
	}
	k2, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Public().(ed25519.PublicKey).Equal(k2.Public()) {
		t.Error("reloading the key file gave another key")
	}

	for _, tt := range []struct {
		name string
		sddl string // DACL to set; "" for a NULL DACL
		want string
	}{
		{"Everyone", "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;" + user + ")(A;;FR;;;WD)", "Everyone may read"},
		{"Users", "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;" + user + ")(A;;FR;;;BU)", `BUILTIN\Users may read`},
		{"NULL DACL", "", "readable by everyone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			setDACL(t, path, tt.sddl)
			_, err := LoadOrCreateFile(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadOrCreateFile = %v, want an error saying %q", err, tt.want)
			}
		})
	}
	setDACL(t, path, keyFileSDDL(user)[len("O:"+user):])
	if _, err := LoadOrCreateFile(path); err != nil {
		t.Errorf("after restoring the DACL: %v", err)
	}
}

// setDACL replaces the DACL of path; sddl "" sets a NULL DACL.
func setDACL(t *testing.T, path, sddl string) {
	t.Helper()
	var acl *windows.ACL
	if sddl != "" {
		sd, err := windows.SecurityDescriptorFromString(sddl)
		if err != nil {
			t.Fatal(err)
		}
		if acl, _, err = sd.DACL(); err != nil {
			t.Fatal(err)
		}
	}
	err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, acl, nil)
	if err != nil {
		t.Fatalf("setting DACL %q: %v", sddl, err)
	}
}
