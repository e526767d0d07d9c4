package posture

import (
	"context"
	"errors"

	"github.com/healthgate/healthgate/evidence"
)

// Collect decides from the DMI strings the firmware reports
// (/sys/class/dmi/id/sys_vendor, product_name) and the CPU's "hypervisor"
// flag (/proc/cpuinfo) whether the device is a virtual machine. Linux
// reports no emulators.
func (virtualizationCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	read := func(name string, max int64) (string, bool) {
		data, _, err := env.readHead(name, max)
		return string(data), err == nil
	}
	vendor, okV := read("sys/class/dmi/id/sys_vendor", maxString)
	product, okP := read("sys/class/dmi/id/product_name", maxString)
	cpuinfo, okC := read("proc/cpuinfo", 64<<10)
	if !okV && !okP && !okC {
		return errors.New("no DMI or CPU information")
	}
	vm, name := detectVM(vendor, product, cpuinfoHypervisor([]byte(cpuinfo)))
	f.Virtualization = &evidence.VirtualizationFacts{VirtualMachine: vm, Product: name}
	return nil
}
