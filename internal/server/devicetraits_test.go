package server_test

import (
	"github.com/healthgate/healthgate/evidence"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// TestEnrolmentBurst: many devices enrolling from one network within an
// hour make a registration from one of them a step-up (device farm), and
// the signal fades when the hour has passed.
func TestEnrolmentBurst(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	var last *device
	for range 25 { // all from 127.0.0.1: one /24
		last = e.enroll()
	}
	cert := last.certificate(nil)
	register := func() map[string]any {
		_, m := e.call("POST", "/v1/decisions", key, jsonBody(map[string]any{"event": "register", "account": "new-user",
			"certificate": cert}))
		return m
	}
	m := register()
	if m["outcome"] != "step_up" || !strings.Contains(strings.Join(reasons(m), ","), "enrolment_burst") {
		t.Errorf("registration from a burst network: %v", m)
	}
	if n := m["signals"].(map[string]any)["device"].(map[string]any)["network_enrolments_1h"]; n != float64(25) {
		t.Errorf("network_enrolments_1h = %v, want 25", n)
	}
	e.clock.Add(61 * time.Minute)
	cert = last.certificate(nil) // the old one expired with the hour
	if m := register(); strings.Contains(strings.Join(reasons(m), ","), "enrolment_burst") {
		t.Errorf("an hour later the burst still counts: %v", m)
	}
}

// TestVirtualDeviceSignup: a device whose last report said it is an
// emulator is asked for more proof when an account registers from it.
func TestVirtualDeviceSignup(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	d := e.enroll()
	facts := healthyFacts(e.clock.Now())
	facts.Virtualization = &evidence.VirtualizationFacts{Emulator: true, Product: "Android SDK built for x86"}
	cert := d.certificate(&facts)
	_, m := e.call("POST", "/v1/decisions", key, jsonBody(map[string]any{"event": "register", "account": "new-user", "certificate": cert}))
	if m["outcome"] != "step_up" || !strings.Contains(strings.Join(reasons(m), ","), "virtual_device_signup") {
		t.Errorf("registration from an emulator: %v", m)
	}
	// The next report says it is a real device: the signal goes.
	cert = d.certificate(nil)
	_, m = e.call("POST", "/v1/decisions", key, jsonBody(map[string]any{"event": "register", "account": "other-user", "certificate": cert}))
	if strings.Contains(strings.Join(reasons(m), ","), "virtual_device_signup") {
		t.Errorf("after a report without virtualisation: %v", m)
	}
}
