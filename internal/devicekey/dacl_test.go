package devicekey

import (
	"strings"
	"testing"
)

// The access masks Windows writes for icacls' F, R and RX and for the
// ACEs a file inherits from C:\ProgramData and C:\Users\<name>.
const (
	fileAllAccess     = 0x001F01FF // F: FILE_ALL_ACCESS
	fileGenericRead   = 0x00120089 // R: FILE_GENERIC_READ
	fileGenericRX     = 0x001200A9 // RX
	fileGenericWrite  = 0x00120116 // W: FILE_GENERIC_WRITE
	fileReadAttrsOnly = 0x00100080 // SYNCHRONIZE | FILE_READ_ATTRIBUTES
	inheritedACE      = 0x10       // INHERITED_ACE
)

const (
	user  = "S-1-5-21-3623811015-3361044348-30300820-1013"
	other = "S-1-5-21-3623811015-3361044348-30300820-1014"
)

func TestCheckDACL(t *testing.T) {
	const path = `C:\ProgramData\Healthgate\device.key`
	allow := func(sid string, mask uint32) aclEntry { return aclEntry{Type: aceAllowed, Mask: mask, SID: sid} }
	// What createPrivate gives a key file: keyFileSDDL(user).
	ours := []aclEntry{allow(sidSystem, fileAllAccess), allow(sidAdministrators, fileAllAccess), allow(user, fileAllAccess)}
	for _, tt := range []struct {
		name    string
		d       fileDACL
		refused []string // what the message must name; nil: accepted
	}{
		{"owner only", fileDACL{Owner: user, Entries: []aclEntry{allow(user, fileAllAccess)}}, nil},
		{"owner, SYSTEM, Administrators", fileDACL{Owner: user, Entries: ours}, nil},
		{"owner rights", fileDACL{Owner: user, Entries: []aclEntry{allow(sidOwnerRights, fileAllAccess)}}, nil},
		{"owned by SYSTEM (service)", fileDACL{Owner: sidSystem, Entries: ours[:2]}, nil},
		{"owned by Administrators", fileDACL{Owner: sidAdministrators, Entries: ours[:2]}, nil},
		{"empty DACL", fileDACL{Owner: user}, nil},
		{"others may read attributes", fileDACL{Owner: user, Entries: append(ours[:3:3], allow("S-1-1-0", fileReadAttrsOnly))}, nil},
		{"Everyone denied", fileDACL{Owner: user, Entries: append(ours[:3:3], aclEntry{Type: aceDenied, Mask: fileAllAccess, SID: "S-1-1-0"})}, nil},
		{"inherit-only Users entry", fileDACL{Owner: user, Entries: append(ours[:3:3], aclEntry{Type: aceAllowed, Flags: aceInheritOnly, Mask: fileGenericRX, SID: "S-1-5-32-545"})}, nil},

		// What Wine 8.0 reports for the key file the agent created (it makes
		// the DACL up from the Unix mode 0750), and for it after chmod o+r.
		{"recorded: Wine 8.0, mode 0750", fileDACL{Owner: "S-1-5-21-0-0-0-1000", Entries: []aclEntry{
			allow(sidSystem, fileAllAccess), allow("S-1-5-21-0-0-0-1000", fileAllAccess),
		}}, nil},
		{"recorded: Wine 8.0, mode 0754", fileDACL{Owner: "S-1-5-21-0-0-0-1000", Entries: []aclEntry{
			allow(sidSystem, fileAllAccess), allow("S-1-5-21-0-0-0-1000", fileAllAccess), allow("S-1-1-0", fileGenericRX),
		}}, []string{"readable by others (Everyone may read it)", "*S-1-5-21-0-0-0-1000:F /remove *S-1-1-0"}},

		{"NULL DACL", fileDACL{Owner: user, Null: true}, []string{"readable by everyone", "/inheritance:r"}},
		{"Users may read", fileDACL{Owner: user, Entries: append(ours[:3:3], allow("S-1-5-32-545", fileGenericRead))},
			[]string{`readable by others (BUILTIN\Users may read it)`, "/remove *S-1-5-32-545"}},
		{"Everyone", fileDACL{Owner: user, Entries: append(ours[:3:3], allow("S-1-1-0", fileAllAccess))},
			[]string{"Everyone may read", "/remove *S-1-1-0"}},
		{"inherited from C:\\ProgramData", fileDACL{Owner: user, Entries: []aclEntry{
			{Type: aceAllowed, Flags: inheritedACE, Mask: fileAllAccess, SID: sidSystem},
			{Type: aceAllowed, Flags: inheritedACE, Mask: fileAllAccess, SID: sidAdministrators},
			{Type: aceAllowed, Flags: inheritedACE, Mask: fileGenericRX, SID: "S-1-5-32-545"},
			{Type: aceAllowed, Flags: inheritedACE, Mask: fileAllAccess, SID: user},
		}}, []string{`BUILTIN\Users`}},
		{"Authenticated Users may write", fileDACL{Owner: user, Entries: append(ours[:3:3], allow("S-1-5-11", fileGenericWrite))},
			[]string{"can be changed by others (Authenticated Users may change it)"}},
		{"another user", fileDACL{Owner: user, Entries: append(ours[:3:3], allow(other, fileGenericRead))},
			[]string{other + " may read", "/remove *" + other}},
		{"the key's user, owned by someone else", fileDACL{Owner: other, Entries: ours},
			[]string{user, "*" + other + ":F"}},
		{"GENERIC_READ", fileDACL{Owner: user, Entries: append(ours[:3:3], allow("S-1-1-0", 0x80000000))}, []string{"Everyone"}},
		{"WRITE_DAC", fileDACL{Owner: user, Entries: append(ours[:3:3], allow("S-1-5-32-545", 0x00040000))}, []string{`BUILTIN\Users may change it`}},
		{"two entries, two others", fileDACL{Owner: user, Entries: append(ours[:3:3],
			allow("S-1-1-0", fileGenericWrite), allow("S-1-5-32-545", fileGenericRX), allow("S-1-1-0", fileGenericRead))},
			[]string{"readable by others (Everyone may read it; BUILTIN\\Users may read it)", "/remove *S-1-1-0 *S-1-5-32-545"}},
		{"conditional entry", fileDACL{Owner: user, Entries: append(ours[:3:3], aclEntry{Type: aceAllowedCallback, Mask: fileGenericRead, SID: other})}, []string{other}},
		// An owner may always change the DACL; a group as owner is all its
		// members, and OWNER RIGHTS then stands for them too.
		{"owned by Everyone", fileDACL{Owner: "S-1-1-0", Entries: ours[:2]}, []string{"owned by Everyone", "/setowner"}},
		{"owned by Users, owner rights", fileDACL{Owner: "S-1-5-32-545", Entries: append(ours[:2:2], allow(sidOwnerRights, fileAllAccess))},
			[]string{`owned by BUILTIN\Users`, "/setowner"}},
		{"owned by Everyone, Everyone may read", fileDACL{Owner: "S-1-1-0", Entries: append(ours[:2:2], allow("S-1-1-0", fileAllAccess))},
			[]string{"Everyone may read", "/remove *S-1-1-0", "/setowner"}},
		{"object entry", fileDACL{Owner: user, Entries: append(ours[:3:3], aclEntry{Type: 0x5, Mask: fileGenericRead})}, []string{"unexpected type 0x5"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkDACL(path, tt.d)
			if tt.refused == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			for _, want := range append([]string{path, `run icacls "` + path + `" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F`}, tt.refused...) {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not contain %q", msg, want)
				}
			}
		})
	}
}

func TestKeyFileSDDL(t *testing.T) {
	for _, tt := range []struct{ user, want string }{
		{user, "O:" + user + "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;" + user + ")"},
		{sidSystem, "O:S-1-5-18D:P(A;;FA;;;SY)(A;;FA;;;BA)"},
	} {
		if got := keyFileSDDL(tt.user); got != tt.want {
			t.Errorf("keyFileSDDL(%s) = %s, want %s", tt.user, got, tt.want)
		}
	}
}
