//go:build windows

package agent

import (
	"context"
	"fmt"

	"golang.org/x/sys/windows/svc"
)

// ServiceName is the name the agent is registered under as a system
// service (Windows SCM, systemd unit, launchd label suffix).
const ServiceName = "healthgate-agent"

// RunService runs run under the Windows service control manager until the
// SCM asks the service to stop or the system shuts down; then it cancels
// run's context and waits for it to return. It fails when the process was
// not started by the SCM.
func RunService(name string, run func(ctx context.Context) error) error {
	isService, err := svc.IsWindowsService()
	if err != nil {
		return fmt.Errorf("asking whether this is a service: %w", err)
	}
	if !isService {
		return fmt.Errorf("not started by the service control manager: install the service (see packaging/windows) or run without --service")
	}
	h := &serviceHandler{run: run}
	if err := svc.Run(name, h); err != nil {
		return fmt.Errorf("running service %q: %w", name, err)
	}
	return h.err
}

// serviceHandler is the svc.Handler that runs the daemon.
type serviceHandler struct {
	run func(ctx context.Context) error
	err error // what run returned
}

var _ svc.Handler = (*serviceHandler)(nil)

// Execute implements svc.Handler.
func (h *serviceHandler) Execute(_ []string, requests <-chan svc.ChangeRequest, status chan<- svc.Status) (svcSpecificEC bool, exitCode uint32) {
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: accepts}
	for {
		select {
		case err := <-done:
			// The daemon ended on its own: report it, with a
			// service-specific exit code when it failed.
			h.err = err
			status <- svc.Status{State: svc.StopPending}
			if err != nil {
				return true, 1
			}
			return false, 0
		case req := <-requests:
			switch req.Cmd {
			case svc.Interrogate:
				status <- req.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending}
				cancel()
				h.err = <-done
				if h.err != nil {
					return true, 1
				}
				return false, 0
			}
		}
	}
}
