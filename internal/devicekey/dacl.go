package devicekey

import (
	"fmt"
	"strings"
)

// This file decides whether a Windows key file is private from its DACL.
// It is plain Go over SID strings and access masks so that the decision is
// tested on every platform; keyfile_windows.go reads the real DACL into a
// fileDACL and creates the key file with keyFileSDDL.

// Well-known SIDs.
const (
	sidSystem         = "S-1-5-18"     // NT AUTHORITY\SYSTEM
	sidAdministrators = "S-1-5-32-544" // BUILTIN\Administrators
	sidOwnerRights    = "S-1-3-4"      // OWNER RIGHTS: whoever owns the file
)

// sidNames names the SIDs a refused key file usually grants, for messages.
var sidNames = map[string]string{
	"S-1-1-0":      "Everyone",
	"S-1-2-0":      "LOCAL",
	"S-1-5-4":      "INTERACTIVE",
	"S-1-5-11":     "Authenticated Users",
	"S-1-5-32-545": `BUILTIN\Users`,
	"S-1-5-32-546": `BUILTIN\Guests`,
	"S-1-5-7":      "ANONYMOUS LOGON",
}

// ACE types (winnt.h) the decision knows. Object ACEs (5, 6, 11, 12) are
// for directory-service objects, not files.
const (
	aceAllowed         = 0x0 // ACCESS_ALLOWED_ACE_TYPE
	aceDenied          = 0x1 // ACCESS_DENIED_ACE_TYPE
	aceDeniedObject    = 0x6 // ACCESS_DENIED_OBJECT_ACE_TYPE
	aceAllowedCallback = 0x9 // ACCESS_ALLOWED_CALLBACK_ACE_TYPE (conditional)
	aceDeniedCallback  = 0xA // ACCESS_DENIED_CALLBACK_ACE_TYPE
	aceDeniedCbObject  = 0xC // ACCESS_DENIED_CALLBACK_OBJECT_ACE_TYPE
	aceInheritOnly     = 0x8 // INHERIT_ONLY_ACE flag: not for the file itself
)

// Access a key file may grant only to its owner, SYSTEM and
// Administrators: reading the key (readAccess), or replacing it with a key
// the holder knows or granting itself either (changeAccess); the Unix
// check refuses group and other write bits too. Reading attributes or the
// security descriptor, or synchronizing on the file, is harmless.
const (
	readAccess = 0x00000001 | // FILE_READ_DATA
		0x10000000 | // GENERIC_ALL
		0x80000000 // GENERIC_READ
	changeAccess = 0x00000002 | // FILE_WRITE_DATA
		0x00000004 | // FILE_APPEND_DATA
		0x00040000 | // WRITE_DAC
		0x00080000 | // WRITE_OWNER
		0x10000000 | // GENERIC_ALL
		0x40000000 // GENERIC_WRITE
)

// aclEntry is one ACE of a file's DACL.
type aclEntry struct {
	Type  uint8  // ACE type, aceAllowed and so on
	Flags uint8  // ACE flags (INHERITED_ACE, INHERIT_ONLY_ACE, ...)
	Mask  uint32 // access mask
	SID   string // trustee, "S-1-5-18"; empty for object ACEs
}

// fileDACL is what checkDACL needs of a file's security descriptor.
type fileDACL struct {
	Owner   string // owner SID
	Null    bool   // no DACL: everyone has full access
	Entries []aclEntry
}

// checkDACL refuses a key file whose DACL lets anyone other than its
// owner, SYSTEM and Administrators read or replace it. Deny ACEs only take
// access away and are ignored, so the verdict errs towards refusing.
func checkDACL(path string, d fileDACL) error {
	if d.Null {
		return fmt.Errorf("device key %s is readable by everyone (it has no access control list): %s", path, icaclsFix(path, d.Owner, nil))
	}
	// An owner may always change the DACL. A group as owner (Everyone,
	// Users, ...) is every member, and so is OWNER RIGHTS then: trust
	// neither, and have the file given to Administrators.
	owner, fixOwner := d.Owner, ""
	if _, group := sidNames[d.Owner]; group {
		owner = ""
		fixOwner = fmt.Sprintf(`, then icacls "%s" /setowner *%s`, path, sidAdministrators)
	}
	var others []string            // in DACL order
	granted := map[string]uint32{} // what each of them may do
	for _, e := range d.Entries {
		if e.Flags&aceInheritOnly != 0 {
			continue
		}
		switch e.Type {
		case aceDenied, aceDeniedCallback, aceDeniedObject, aceDeniedCbObject:
			continue
		case aceAllowed, aceAllowedCallback:
			trusted := trustedSID(e.SID, owner) && !(owner == "" && e.SID == sidOwnerRights)
			if e.Mask&(readAccess|changeAccess) == 0 || trusted {
				continue
			}
			if _, seen := granted[e.SID]; !seen {
				others = append(others, e.SID)
			}
			granted[e.SID] |= e.Mask
		default:
			return fmt.Errorf("device key %s has an access control entry of unexpected type %#x: %s", path, e.Type, icaclsFix(path, owner, nil)+fixOwner)
		}
	}
	if len(others) == 0 {
		if fixOwner != "" {
			return fmt.Errorf("device key %s is owned by %s, who may therefore change who can read it: %s", path, sidName(d.Owner), icaclsFix(path, owner, nil)+fixOwner)
		}
		return nil
	}
	var who []string
	anyRead := false
	for _, sid := range others {
		if granted[sid]&readAccess != 0 {
			anyRead = true
			who = append(who, sidName(sid)+" may read it")
		} else {
			who = append(who, sidName(sid)+" may change it")
		}
	}
	what := "is readable by others"
	if !anyRead {
		what = "can be changed by others"
	}
	if fixOwner != "" {
		who = append(who, "it is owned by "+sidName(d.Owner))
	}
	return fmt.Errorf("device key %s %s (%s): %s", path, what, strings.Join(who, "; "), icaclsFix(path, owner, others)+fixOwner)
}

// trustedSID reports whether sid may hold the key: the file's owner,
// SYSTEM, Administrators, or OWNER RIGHTS (which stands for the owner).
func trustedSID(sid, owner string) bool {
	switch sid {
	case sidSystem, sidAdministrators, sidOwnerRights:
		return true
	}
	return sid != "" && sid == owner
}

// icaclsFix is the command that makes the key file private again: no
// inherited entries, full control for its owner, SYSTEM and
// Administrators, and the entries of the others removed.
func icaclsFix(path, owner string, others []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `run icacls "%s" /inheritance:r /grant:r *%s:F *%s:F`, path, sidSystem, sidAdministrators)
	if owner != "" && !trustedSID(owner, "") {
		fmt.Fprintf(&b, " *%s:F", owner)
	}
	if len(others) > 0 {
		b.WriteString(" /remove")
		for _, sid := range others {
			fmt.Fprintf(&b, " *%s", sid)
		}
	}
	return b.String()
}

func sidName(sid string) string {
	if n, ok := sidNames[sid]; ok {
		return n
	}
	if sid == "" {
		return "an object entry"
	}
	return sid
}

// keyFileSDDL is the security descriptor a new key file gets on Windows:
// owned by the account running the agent (user, a SID string), and a
// protected DACL (no inherited entries) granting full control to that
// account, SYSTEM and Administrators only.
func keyFileSDDL(user string) string {
	sddl := "O:" + user + "D:P(A;;FA;;;SY)(A;;FA;;;BA)"
	if !trustedSID(user, "") {
		sddl += "(A;;FA;;;" + user + ")"
	}
	return sddl
}
