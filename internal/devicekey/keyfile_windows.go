package devicekey

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows reports every writable file as mode 0666, so the key file is kept
// private by its DACL instead of permission bits: see dacl.go.

// createPrivate creates a file owned by the account running the agent,
// with a protected DACL (nothing inherited from the directory) granting
// full control to that account, SYSTEM and Administrators only. The
// security descriptor is given to CreateFile, so the file is never
// readable by others, not even before its first byte is written. A file
// left at path (by a crash) is removed first: CreateFile ignores the
// security descriptor when it opens an existing file.
func createPrivate(path string) (*os.File, error) {
	user, err := processUser()
	if err != nil {
		return nil, fmt.Errorf("device key %s: %w", path, err)
	}
	sd, err := windows.SecurityDescriptorFromString(keyFileSDDL(user))
	if err != nil {
		return nil, fmt.Errorf("device key %s: security descriptor: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	sa := windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(sa))
	h, err := windows.CreateFile(name, windows.GENERIC_WRITE, 0, &sa, windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// processUser is the SID of the account this process runs as.
func processUser() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser() // a pseudo-handle: nothing to close
	if err != nil {
		return "", fmt.Errorf("reading the process user: %w", err)
	}
	return u.User.Sid.String(), nil
}

// checkPrivate refuses a key file whose DACL lets anyone other than its
// owner, SYSTEM and Administrators read or replace it.
func checkPrivate(path string) error {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("device key %s: reading its access control list: %w", path, err)
	}
	d, err := readDACL(sd)
	if err != nil {
		return fmt.Errorf("device key %s: %w", path, err)
	}
	return checkDACL(path, d)
}

// readDACL parses the owner and DACL of a security descriptor.
func readDACL(sd *windows.SECURITY_DESCRIPTOR) (fileDACL, error) {
	var d fileDACL
	owner, _, err := sd.Owner()
	if err != nil {
		return d, fmt.Errorf("reading its owner: %w", err)
	}
	if owner != nil {
		d.Owner = owner.String()
	}
	acl, _, err := sd.DACL()
	switch {
	case errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND):
		// No DACL at all grants everyone full access, as a NULL DACL does.
		d.Null = true
		return d, nil
	case err != nil:
		return d, fmt.Errorf("reading its access control list: %w", err)
	case acl == nil:
		d.Null = true
		return d, nil
	}
	for i := range uint32(acl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(acl, i, &ace); err != nil {
			return d, fmt.Errorf("reading access control entry %d: %w", i, err)
		}
		e := aclEntry{Type: ace.Header.AceType, Flags: ace.Header.AceFlags, Mask: uint32(ace.Mask)}
		switch e.Type {
		case aceAllowed, aceDenied, aceAllowedCallback, aceDeniedCallback:
			// These put the SID right after the mask.
			e.SID = (*windows.SID)(unsafe.Pointer(&ace.SidStart)).String()
		}
		d.Entries = append(d.Entries, e)
	}
	return d, nil
}
