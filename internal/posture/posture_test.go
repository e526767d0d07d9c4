package posture

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// fakeCollector is a collector whose behaviour a test chooses.
type fakeCollector struct {
	name    string
	collect func(ctx context.Context, f *evidence.Facts) error
}

var _ Collector = fakeCollector{}

func (c fakeCollector) Name() string { return c.name }

func (c fakeCollector) Collect(ctx context.Context, _ *Env, f *evidence.Facts) error {
	return c.collect(ctx, f)
}

func TestRun(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	dns := fakeCollector{groupDNS, func(_ context.Context, f *evidence.Facts) error {
		f.DNS = &evidence.DNSFacts{Servers: []string{"1.1.1.1"}}
		return nil
	}}
	tests := []struct {
		name        string
		collector   fakeCollector
		wantUnknown string // substring of Unknown[name]
	}{
		{
			name: "blocks past its timeout, ignoring ctx",
			collector: fakeCollector{groupHosts, func(_ context.Context, f *evidence.Facts) error {
				<-release
				f.Hosts = &evidence.HostsFacts{}
				return nil
			}},
			wantUnknown: "timed out after 50ms",
		},
		{
			name: "fails",
			collector: fakeCollector{groupFirewall, func(context.Context, *evidence.Facts) error {
				return errors.New("no permission")
			}},
			wantUnknown: "no permission",
		},
		{
			name: "panics",
			collector: fakeCollector{groupProxy, func(context.Context, *evidence.Facts) error {
				var m map[string]int
				m["x"]++
				return nil
			}},
			wantUnknown: "collector panicked",
		},
		{
			name: "sets no group",
			collector: fakeCollector{groupOS, func(context.Context, *evidence.Facts) error {
				return nil
			}},
			wantUnknown: "collector returned no facts",
		},
		{
			name: "sets another group only",
			collector: fakeCollector{groupAntivirus, func(_ context.Context, f *evidence.Facts) error {
				f.Firewall = &evidence.FirewallFacts{Enabled: true}
				return nil
			}},
			wantUnknown: "collector returned no facts",
		},
		{
			name: "unsupported",
			collector: fakeCollector{groupTrustStore, func(context.Context, *evidence.Facts) error {
				return errors.ErrUnsupported
			}},
			wantUnknown: "unsupported operation",
		},
		{
			name: "unknown group",
			collector: fakeCollector{"battery", func(context.Context, *evidence.Facts) error {
				return nil
			}},
			wantUnknown: `unknown facts group "battery"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			f := run(context.Background(), &Env{Root: "/", Now: time.Now}, []Collector{dns, tt.collector}, 50*time.Millisecond)
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("run took %v", elapsed)
			}
			if got, want := jsonOf(t, f.DNS), `{"servers":["1.1.1.1"]}`; got != want {
				t.Errorf("dns = %s, want %s", got, want)
			}
			if got := f.Unknown[tt.collector.name]; !strings.Contains(got, tt.wantUnknown) {
				t.Errorf("Unknown[%q] = %q, want it to contain %q", tt.collector.name, got, tt.wantUnknown)
			}
			if got, want := len(f.Unknown), 1; got != want {
				t.Errorf("len(Unknown) = %d, want %d: %v", got, want, f.Unknown)
			}
			if f.Firewall != nil && tt.collector.name != groupFirewall {
				t.Errorf("a collector set a group it is not named for: %+v", f.Firewall)
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wait := fakeCollector{groupDNS, func(ctx context.Context, f *evidence.Facts) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	f := run(ctx, &Env{Root: "/", Now: time.Now}, []Collector{wait}, time.Minute)
	if got, want := f.Unknown[groupDNS], "context canceled"; got != want {
		t.Errorf("Unknown[dns] = %q, want %q", got, want)
	}
}

func TestRegistry(t *testing.T) {
	seen := make(map[string]bool)
	for _, c := range collectors() {
		if seen[c.Name()] {
			t.Errorf("collector %q listed twice", c.Name())
		}
		seen[c.Name()] = true
		var f evidence.Facts
		if err := takeGroup(&f, &f, c.Name()); err == nil || strings.Contains(err.Error(), "unknown") {
			t.Errorf("collector %q does not name a facts group: %v", c.Name(), err)
		}
	}
	// One collector per group: every field of evidence.Facts but Unknown.
	if got, want := len(seen), reflect.TypeOf(evidence.Facts{}).NumField()-1; got != want {
		t.Errorf("%d collectors, want %d (one per facts group)", got, want)
	}
}

func TestPlatform(t *testing.T) {
	found := false
	for _, p := range evidence.Platforms {
		found = found || p == Platform()
	}
	if !found {
		t.Errorf("Platform() = %q, not one of %v", Platform(), evidence.Platforms)
	}
}

// jsonOf returns v as JSON, the form facts travel in, for comparisons.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// pemToDER returns the bytes of the first PEM block in data.
func pemToDER(t *testing.T, data []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

// base64Lines encodes data as PEM body lines.
func base64Lines(data []byte) string {
	s := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	return b.String() + s + "\n"
}
