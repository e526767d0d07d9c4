//go:build windows

package posture

import (
	"context"
	"errors"
	"os"

	"github.com/healthgate/healthgate/evidence"
)

// The Windows collectors are in wincollect.go, OS-independent and tested
// against recorded answers; these methods give them the running system
// (liveWindows). Under a device tree (--root DIR) only the hosts file is
// read from the tree: WMI, the registry, processes and certificate stores
// would describe this machine, not the tree.

// errNoWindowsQueries is the answer of the collectors that ask Windows
// itself when collecting a device tree.
var errNoWindowsQueries = errors.New("windows is not queried for a device tree")

// liveRoot is the directory that stands for the running system's "/": the
// root of the drive Windows is installed on (%SystemRoot%'s). A rooted path
// such as \Users is on the current directory's drive, which need not be
// that one: run from D:, the browser collector read D:\Users and reported
// no extensions at all.
func liveRoot() string {
	root, _ := windowsRoot("", os.Getenv("SystemRoot"))
	return root
}

// winLive reports whether env reads the running system.
func winLive(env *Env) bool {
	return env.Root == "" || env.Root == "/" || env.Root == `\`
}

// withSystem runs collect with the live system, or refuses for a device
// tree.
func withSystem(env *Env, collect func(winSystem) error) error {
	if !winLive(env) {
		return errNoWindowsQueries
	}
	return collect(liveWindows{})
}

func (osCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error { return winOS(ctx, env, sys, f) })
}

func (firewallCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error { return winFirewall(ctx, env, sys, f) })
}

func (antivirusCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error { return winAntivirus(ctx, env, sys, f) })
}

// regTcpipParameters holds DataBasePath, the folder Windows reads the
// hosts file from (winHostsDir).
const regTcpipParameters = `HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters`

// Collect reads the hosts file Windows reads on the running system (in
// Tcpip's DataBasePath, by default under %SystemRoot%), or
// Windows\System32\drivers\etc\hosts under a device tree.
func (hostsCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	if !winLive(env) {
		return winHosts(ctx, &Env{Root: env.Root, Now: env.Now}, "Windows/System32/drivers/etc", "", f)
	}
	var dataBasePath string
	if v, err := (liveWindows{}).registry(ctx, regTcpipParameters); err == nil {
		dataBasePath, _ = v["DataBasePath"].(string)
	}
	root, dir := winHostsDir(dataBasePath, os.Getenv("SystemRoot"))
	return winHosts(ctx, &Env{Root: root, Now: env.Now}, dir, localHostname(env), f)
}

func (dnsCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error { return winDNS(ctx, sys, f) })
}

func (proxyCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error { return winProxy(ctx, sys, f) })
}

func (trustStoreCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error { return winTrustStore(ctx, sys, baselineRoots(), f) })
}

func (processCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error { return winProcesses(ctx, sys, f) })
}

func (diskEncryptionCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error {
		return winDiskEncryption(ctx, sys, os.Getenv("SystemDrive"), f)
	})
}

func (secureBootCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error { return winSecureBoot(ctx, sys, f) })
}

func (screenLockCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error { return winScreenLock(ctx, sys, f) })
}

func (platformSecurityCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error { return winPlatformSecurity(ctx, sys, f) })
}

func (virtualizationCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return withSystem(env, func(sys winSystem) error { return winVirtualization(ctx, sys, f) })
}
