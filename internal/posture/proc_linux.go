package posture

import (
	"context"
	"fmt"
	"strconv"
)

// maxPIDs bounds the processes looked at in one run.
const maxPIDs = 1 << 16

// procInfo is one process found under /proc.
type procInfo struct {
	pid  string
	name string
}

// listProcesses returns the processes under the device's /proc that run a
// program, skipping kernel threads and processes that exited meanwhile.
func listProcesses(ctx context.Context, env *Env) ([]procInfo, error) {
	entries, err := env.readDir("proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var procs []procInfo
	for _, e := range entries {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if _, err := strconv.ParseUint(e.Name(), 10, 32); err != nil {
			continue
		}
		if len(procs) == maxPIDs {
			break
		}
		dir := "proc/" + e.Name()
		comm, _, err := env.readHead(dir+"/comm", 1024)
		if err != nil {
			continue
		}
		if stat, _, err := env.readHead(dir+"/stat", 4096); err == nil && isKernelThread(string(stat)) {
			continue
		}
		if name := processName(string(comm)); name != "" {
			procs = append(procs, procInfo{pid: e.Name(), name: name})
		}
	}
	return procs, nil
}
