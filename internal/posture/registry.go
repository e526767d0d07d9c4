package posture

// collectors is the registry: every collector Collect runs, in report order.
// Adding a fact group means adding its collector here, and nowhere else.
func collectors() []Collector {
	return []Collector{
		osCollector{},
		firewallCollector{},
		antivirusCollector{},
		hostsCollector{},
		dnsCollector{},
		proxyCollector{},
		trustStoreCollector{},
		processCollector{},
		diskEncryptionCollector{},
		secureBootCollector{},
		screenLockCollector{},
		platformSecurityCollector{},
		browserCollector{},
		virtualizationCollector{},
	}
}
