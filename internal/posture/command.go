package posture

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
)

// runner runs a program of the device and returns its standard output.
// Output is returned even when the program exits with an error status
// (spctl --status exits 1 when Gatekeeper is off); err says why it did not
// succeed. Collectors that need a program's answer take a runner, so tests
// replay recorded outputs (testdata/darwin/) on any system.
type runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// maxCommandOutput bounds what is kept of one program's output.
const maxCommandOutput = 4 << 20

// errNoCommands is the runner's answer for a device tree (--root): the
// programs on this machine would describe this machine, not the tree.
var errNoCommands = errors.New("programs are not run for a device tree")

// hostRunner returns the runner for env: programs of the running system
// when env reads the live system, otherwise one that refuses, so that
// collectors fall back to the files of the tree.
func hostRunner(env *Env) runner {
	if !env.live() {
		return func(context.Context, string, ...string) ([]byte, error) { return nil, errNoCommands }
	}
	return execRunner
}

// execRunner runs name (an absolute path) with a fixed, minimal
// environment and the C locale, so outputs parse the same everywhere. It
// stops with ctx.
func execRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"LC_ALL=C", "LANG=C", "PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
	out := &cappedBuffer{max: maxCommandOutput}
	cmd.Stdout = out
	err := cmd.Run()
	return out.Bytes(), err
}

// cappedBuffer keeps the first max bytes written to it and drops the rest.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
