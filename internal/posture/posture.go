package posture

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// DefaultTimeout bounds each collector when Options.Timeout is not set.
const DefaultTimeout = 5 * time.Second

// Options configure a collection run.
type Options struct {
	// Root is the directory that stands for the device's "/": collectors
	// read Root/etc/hosts, Root/proc, … . Empty means "/".
	Root string
	// Now is the device clock; time.Now when nil.
	Now func() time.Time
	// Timeout bounds each collector; DefaultTimeout when zero or negative.
	Timeout time.Duration
}

// Collect runs every collector in the registry concurrently, each with its
// own timeout, and returns the facts. A collector that fails or times out
// leaves its group nil and records the reason in facts.Unknown[group]. It
// never panics on bad input.
func Collect(ctx context.Context, opts Options) evidence.Facts {
	env := &Env{Root: opts.Root, Now: opts.Now}
	if env.Root == "" {
		env.Root = "/"
	}
	env.Root = filepath.Clean(env.Root)
	if env.Now == nil {
		env.Now = time.Now
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return run(ctx, env, collectors(), timeout)
}

// Platform returns the evidence platform name for runtime.GOOS ("linux",
// "windows", "darwin", "android", "ios").
func Platform() string {
	return runtime.GOOS
}

// run is Collect with the registry and timeout as arguments, for tests.
func run(ctx context.Context, env *Env, cs []Collector, timeout time.Duration) evidence.Facts {
	type result struct {
		facts evidence.Facts
		err   error
	}
	results := make([]result, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := runOne(ctx, env, c, timeout)
			results[i] = result{f, err}
		}()
	}
	wg.Wait()

	var facts evidence.Facts
	fail := func(name string, err error) {
		if facts.Unknown == nil {
			facts.Unknown = make(map[string]string)
		}
		facts.Unknown[clean(name)] = clean(err.Error())
	}
	for i, c := range cs {
		name := c.Name()
		if err := results[i].err; err != nil {
			fail(name, err)
			continue
		}
		if err := takeGroup(&facts, &results[i].facts, name); err != nil {
			fail(name, err)
		}
	}
	return facts
}

// runOne runs one collector on its own scratch Facts under a timeout. A
// collector that overruns is abandoned: it owns its scratch Facts, so it
// can finish late without racing with anyone.
func runOne(ctx context.Context, env *Env, c Collector, timeout time.Duration) (evidence.Facts, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type outcome struct {
		facts evidence.Facts
		err   error
	}
	done := make(chan outcome, 1) // buffered: a late collector never blocks
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- outcome{err: fmt.Errorf("collector panicked: %v", r)}
			}
		}()
		var f evidence.Facts
		err := c.Collect(ctx, env, &f)
		done <- outcome{f, err}
	}()
	select {
	case o := <-done:
		return o.facts, o.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return evidence.Facts{}, fmt.Errorf("timed out after %v", timeout)
		}
		return evidence.Facts{}, ctx.Err()
	}
}

// takeGroup moves the named group from src to dst, so a collector can only
// ever contribute the group it is named for.
func takeGroup(dst, src *evidence.Facts, name string) error {
	missing := false
	switch name {
	case groupOS:
		dst.OS, missing = src.OS, src.OS == nil
	case groupFirewall:
		dst.Firewall, missing = src.Firewall, src.Firewall == nil
	case groupAntivirus:
		dst.Antivirus, missing = src.Antivirus, src.Antivirus == nil
	case groupHosts:
		dst.Hosts, missing = src.Hosts, src.Hosts == nil
	case groupDNS:
		dst.DNS, missing = src.DNS, src.DNS == nil
	case groupProxy:
		dst.Proxy, missing = src.Proxy, src.Proxy == nil
	case groupTrustStore:
		dst.TrustStore, missing = src.TrustStore, src.TrustStore == nil
	case groupProcesses:
		dst.Processes, missing = src.Processes, src.Processes == nil
	case groupDiskEncryption:
		dst.DiskEncryption, missing = src.DiskEncryption, src.DiskEncryption == nil
	case groupSecureBoot:
		dst.SecureBoot, missing = src.SecureBoot, src.SecureBoot == nil
	case groupScreenLock:
		dst.ScreenLock, missing = src.ScreenLock, src.ScreenLock == nil
	case groupPlatformSecurity:
		dst.PlatformSecurity, missing = src.PlatformSecurity, src.PlatformSecurity == nil
	case groupBrowsers:
		dst.Browsers, missing = src.Browsers, src.Browsers == nil
	case groupVirtualization:
		dst.Virtualization, missing = src.Virtualization, src.Virtualization == nil
	default:
		return fmt.Errorf("unknown facts group %q", name)
	}
	if missing {
		return errors.New("collector returned no facts")
	}
	return nil
}
