package posture

import (
	"strconv"
	"strings"
)

// pfKthread is the kernel's PF_KTHREAD process flag.
const pfKthread = 0x00200000

// isKernelThread reports whether a /proc/PID/stat line describes a kernel
// thread, which runs no program and so is not reported. The flags are the
// ninth field; the second, the name in parentheses, may hold anything, so
// fields are counted from its last ")".
func isKernelThread(stat string) bool {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 7 {
		return false
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&pfKthread != 0
}

// processName turns the contents of /proc/PID/comm into a report name.
func processName(comm string) string {
	return strings.TrimSpace(clean(strings.TrimSuffix(comm, "\n")))
}
