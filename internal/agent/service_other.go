//go:build !windows

package agent

import (
	"context"
	"errors"
	"fmt"
)

// ServiceName is the name the agent is registered under as a system
// service (Windows SCM, systemd unit, launchd label suffix).
const ServiceName = "healthgate-agent"

// RunService runs run under the Windows service control manager. Elsewhere
// systemd and launchd run the agent as a plain process, so this fails with
// an error wrapping errors.ErrUnsupported.
func RunService(name string, run func(ctx context.Context) error) error {
	return fmt.Errorf("running as service %q: only on Windows (use the systemd unit or launchd plist): %w", name, errors.ErrUnsupported)
}
