package posture

import (
	"context"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// Collector gathers one group of facts.
type Collector interface {
	// Name is the JSON name of the facts group the collector fills, such as
	// "firewall". It is the key of Facts.Unknown when the collector fails.
	Name() string
	// Collect reads the device through env and sets the collector's group
	// in f, and only that group. It returns promptly once ctx is done.
	Collect(ctx context.Context, env *Env, f *evidence.Facts) error
}

// Names of the fact groups, as in the JSON form of evidence.Facts.
const (
	groupOS         = "os"
	groupFirewall   = "firewall"
	groupAntivirus  = "antivirus"
	groupHosts      = "hosts"
	groupDNS        = "dns"
	groupProxy      = "proxy"
	groupTrustStore = "trust_store"
	groupProcesses  = "processes"

	groupDiskEncryption   = "disk_encryption"
	groupSecureBoot       = "secure_boot"
	groupScreenLock       = "screen_lock"
	groupPlatformSecurity = "platform_security"
	groupBrowsers         = "browsers"
	groupVirtualization   = "virtualization"
)

// The collectors. Their Collect methods live in the per-OS files
// (os_linux.go, …) and in stub.go for systems without collectors yet.
type (
	osCollector         struct{}
	firewallCollector   struct{}
	antivirusCollector  struct{}
	hostsCollector      struct{}
	dnsCollector        struct{}
	proxyCollector      struct{}
	trustStoreCollector struct{}
	processCollector    struct{}

	diskEncryptionCollector   struct{}
	secureBootCollector       struct{}
	screenLockCollector       struct{}
	platformSecurityCollector struct{}
	browserCollector          struct{} // every OS: reads browser profile folders
	virtualizationCollector   struct{}
)

func (osCollector) Name() string         { return groupOS }
func (firewallCollector) Name() string   { return groupFirewall }
func (antivirusCollector) Name() string  { return groupAntivirus }
func (hostsCollector) Name() string      { return groupHosts }
func (dnsCollector) Name() string        { return groupDNS }
func (proxyCollector) Name() string      { return groupProxy }
func (trustStoreCollector) Name() string { return groupTrustStore }
func (processCollector) Name() string    { return groupProcesses }

func (diskEncryptionCollector) Name() string   { return groupDiskEncryption }
func (secureBootCollector) Name() string       { return groupSecureBoot }
func (screenLockCollector) Name() string       { return groupScreenLock }
func (platformSecurityCollector) Name() string { return groupPlatformSecurity }
func (browserCollector) Name() string          { return groupBrowsers }
func (virtualizationCollector) Name() string   { return groupVirtualization }

var (
	_ Collector = osCollector{}
	_ Collector = firewallCollector{}
	_ Collector = antivirusCollector{}
	_ Collector = hostsCollector{}
	_ Collector = dnsCollector{}
	_ Collector = proxyCollector{}
	_ Collector = trustStoreCollector{}
	_ Collector = processCollector{}
)

// notFuture drops a time more than a day past now. Logs and file times come
// from the device; a date in the future is a wrong clock or a forgery, and
// would make the device look freshly patched for ever.
func notFuture(t, now time.Time) bool {
	return !t.After(now.Add(24 * time.Hour))
}
