// Command healthgate-load is the load generator behind docs/BENCHMARKS.md.
// It drives a running healthgate server over HTTP on loopback and, in the
// same run, a trivial endpoint of that server (the cached JWKS document), so
// the report path is judged against what the HTTP stack alone can do.
//
// Reports need a fresh challenge each; the generator enrols devices, fetches
// challenges and signs the evidence before the clock starts, so what is
// measured is the server's verify + appraise + store + issue path.
//
//	healthgate-load --server http://127.0.0.1:8080 --duration 10s --concurrency 32
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "healthgate-load:", err)
		os.Exit(1)
	}
}

type config struct {
	server      string
	duration    time.Duration
	concurrency int
	devices     int
	reports     int
	mode        string
	apiKey      string
}

func run(ctx context.Context, args []string) error {
	var cfg config
	fs := flag.NewFlagSet("healthgate-load", flag.ContinueOnError)
	fs.StringVar(&cfg.server, "server", "http://127.0.0.1:8080", "server base URL (loopback only)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to drive each endpoint (bounded: at most 2m)")
	fs.IntVar(&cfg.concurrency, "concurrency", 32, "concurrent connections")
	fs.IntVar(&cfg.devices, "devices", 500, "devices to enrol")
	fs.IntVar(&cfg.reports, "reports", 60000, "reports to pre-sign (the report phase stops when they run out)")
	fs.StringVar(&cfg.mode, "mode", "reports", "reports (POST /v1/reports) or decisions (POST /v1/decisions, needs --api-key)")
	fs.StringVar(&cfg.apiKey, "api-key", "", "relying-party API key for --mode decisions (healthgate rp create NAME)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.mode != "reports" && cfg.mode != "decisions" {
		return errors.New("--mode must be reports or decisions")
	}
	if cfg.mode == "decisions" && cfg.apiKey == "" {
		return errors.New("--mode decisions needs --api-key")
	}
	if cfg.duration <= 0 || cfg.duration > 2*time.Minute {
		return errors.New("--duration must be in (0, 2m]")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.concurrency * 2, MaxConnsPerHost: cfg.concurrency * 2}, Timeout: 30 * time.Second}

	if cfg.mode == "decisions" {
		return runDecisions(ctx, client, cfg)
	}
	fmt.Printf("preparing %d devices and %d signed reports…\n", cfg.devices, cfg.reports)
	start := time.Now()
	tokens, err := prepare(ctx, client, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("prepared in %v\n\n", time.Since(start).Round(time.Millisecond))

	trivial := drive(ctx, client, cfg, func(i int) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, cfg.server+"/.well-known/jwks.json", nil)
	})
	var next atomic.Int64
	reports := drive(ctx, client, cfg, func(i int) (*http.Request, error) {
		n := next.Add(1) - 1
		if n >= int64(len(tokens)) {
			return nil, io.EOF
		}
		req, err := http.NewRequest(http.MethodPost, cfg.server+"/v1/reports", bytes.NewReader(tokens[n]))
		if err == nil {
			req.Header.Set("Content-Type", evidence.MediaType)
		}
		return req, err
	})
	header()
	trivial.print("GET /.well-known/jwks.json")
	reports.print("POST /v1/reports")
	fmt.Printf("\nreports/s as a share of the trivial endpoint: %.0f%%\n", 100*reports.rate()/trivial.rate())
	return nil
}

// prepare enrols devices, fetches one challenge per report and signs it.
func prepare(ctx context.Context, client *http.Client, cfg config) ([][]byte, error) {
	type dev struct {
		id  string
		key ed25519.PrivateKey
	}
	devs := make([]dev, cfg.devices)
	for i := range devs {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		jwk, _ := devicekey.PublicJWK(priv.Public())
		var out struct {
			DeviceID string `json:"device_id"`
		}
		if err := postJSON(ctx, client, cfg.server+"/v1/enroll", map[string]any{"public_key": jwk}, &out); err != nil {
			return nil, fmt.Errorf("enrolling: %w", err)
		}
		devs[i] = dev{out.DeviceID, priv}
	}
	facts := sampleFacts()
	tokens := make([][]byte, cfg.reports)
	var wg sync.WaitGroup
	errc := make(chan error, cfg.concurrency)
	per := (cfg.reports + cfg.concurrency - 1) / cfg.concurrency
	for w := 0; w < cfg.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w * per; i < min((w+1)*per, cfg.reports); i++ {
				d := devs[i%len(devs)]
				var ch struct{ Nonce string }
				if err := postJSON(ctx, client, cfg.server+"/v1/challenge", map[string]string{"device_id": d.id}, &ch); err != nil {
					errc <- err
					return
				}
				tok, err := evidence.Sign(&evidence.Claims{Nonce: ch.Nonce, UEID: d.id, IssuedAt: time.Now().Unix(),
					SWName: "healthgate-load", SWVersion: "1", Platform: "linux", Facts: facts}, d.key)
				if err != nil {
					errc <- err
					return
				}
				tokens[i] = tok
			}
		}(w)
	}
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	return tokens, nil
}

// sampleFacts is a typical desktop report: about 2.5 KB of JSON.
func sampleFacts() evidence.Facts {
	t := time.Now().Add(-24 * time.Hour)
	procs := []evidence.Process{}
	for _, n := range []string{"systemd", "sshd", "firefox-esr", "Xorg", "pipewire", "gnome-shell", "NetworkManager", "clamd", "cupsd", "dbus-daemon", "thunderbird", "code", "bash", "cron"} {
		procs = append(procs, evidence.Process{Name: n, SHA256: fmt.Sprintf("%064x", len(n)*7919)})
	}
	return evidence.Facts{
		OS:         &evidence.OSFacts{Name: "debian", Version: "12", Kernel: "6.1.0-27-amd64", LastUpdate: &t},
		Firewall:   &evidence.FirewallFacts{Enabled: true, Backend: "nftables"},
		Antivirus:  &evidence.AntivirusFacts{Products: []evidence.AntivirusProduct{{Name: "ClamAV", Enabled: true, SignaturesUpdated: &t}}},
		Hosts:      &evidence.HostsFacts{Entries: []evidence.HostEntry{{Host: "nas.lan", IP: "192.168.1.10"}}},
		DNS:        &evidence.DNSFacts{Servers: []string{"192.168.1.1"}},
		Proxy:      &evidence.ProxyFacts{},
		TrustStore: &evidence.TrustStoreFacts{Added: []evidence.Certificate{}},
		Processes:  &evidence.ProcessFacts{Running: procs},
	}
}

func postJSON(ctx context.Context, client *http.Client, url string, in, out any) error {
	b, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

type result struct {
	elapsed   time.Duration
	latencies []time.Duration
	errors    int
	// CPU used during the run by this process and by the server (from
	// its /metrics); zero when unknown.
	clientCPU, serverCPU time.Duration
}

func (r result) rate() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

func (r result) print(name string) {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	perReq := func(d time.Duration) string {
		if d <= 0 || len(r.latencies) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1fµs", float64(d.Nanoseconds())/1e3/float64(len(r.latencies)))
	}
	fmt.Printf("%-32s %10d %10.0f %9v %9v %9v %7d %10s %10s\n", name, len(r.latencies), r.rate(),
		pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond), r.errors,
		perReq(r.clientCPU), perReq(r.serverCPU))
}

// header prints the column names of result.print.
func header() {
	fmt.Printf("%-32s %10s %10s %9s %9s %9s %7s %10s %10s\n", "endpoint", "requests", "req/s", "p50", "p99", "max", "errors",
		"client CPU", "server CPU")
}

// drive sends requests from cfg.concurrency workers until the duration
// passes or newReq returns io.EOF.
func drive(ctx context.Context, client *http.Client, cfg config, newReq func(int) (*http.Request, error)) result {
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var mu sync.Mutex
	var res result
	var wg sync.WaitGroup
	srv0, srvOK := serverCPU(ctx, client, cfg.server)
	cli0, cliOK := processCPU()
	start := time.Now()
	for w := 0; w < cfg.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			errs := 0
			for i := 0; ctx.Err() == nil; i++ {
				req, err := newReq(i)
				if errors.Is(err, io.EOF) {
					break
				}
				t0 := time.Now()
				resp, err := client.Do(req.WithContext(ctx))
				if err != nil {
					if ctx.Err() == nil {
						errs++
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if cli1, ok := processCPU(); ok && cliOK {
		res.clientCPU = cli1 - cli0
	}
	// A fresh context: the run's own has expired by now.
	if srv1, ok := serverCPU(context.WithoutCancel(ctx), client, cfg.server); ok && srvOK {
		res.serverCPU = srv1 - srv0
	}
	return res
}
