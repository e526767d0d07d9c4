//go:build windows

package agent

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/windows/registry"
)

// watchedKeys are the registry keys attackers change to hijack payments on
// Windows: the WinINET proxy settings (per user and machine policy) and the
// trusted root certificate stores of the machine and the user.
var watchedKeys = []struct {
	root registry.Key
	path string
}{
	{registry.CURRENT_USER, `Software\Microsoft\Windows\CurrentVersion\Internet Settings`},
	{registry.LOCAL_MACHINE, `SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings`},
	{registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates`},
	{registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\SystemCertificates\AuthRoot\Certificates`},
	{registry.CURRENT_USER, `Software\Microsoft\SystemCertificates\Root\Certificates`},
}

// writeSystemState adds what the file poller cannot see to a fingerprint:
// each watched key's last-write time and number of subkeys and values, and
// the proxy values themselves.
func writeSystemState(w io.Writer) {
	for _, k := range watchedKeys {
		key, err := registry.OpenKey(k.root, k.path, registry.QUERY_VALUE|registry.ENUMERATE_SUB_KEYS)
		if err != nil {
			fmt.Fprintf(w, "%s absent\x00", k.path)
			continue
		}
		if st, err := key.Stat(); err == nil {
			fmt.Fprintf(w, "%s %d %d %d\x00", k.path, st.ModTime().UnixNano(), st.SubKeyCount, st.ValueCount)
		}
		for _, name := range []string{"ProxyEnable", "ProxyServer", "AutoConfigURL"} {
			if s, _, err := key.GetStringValue(name); err == nil {
				fmt.Fprintf(w, "%s=%s\x00", name, s)
			} else if n, _, err := key.GetIntegerValue(name); err == nil {
				fmt.Fprintf(w, "%s=%d\x00", name, n)
			}
		}
		key.Close()
	}
}

// liveRoot is the device root of the running system: the drive Windows is
// installed on.
func liveRoot() string { return systemDrive(os.Getenv("SystemRoot")) }
