package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestServerCPU(t *testing.T) {
	body := "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n" +
		"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.34\ngo_goroutines 7\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			fmt.Fprint(w, body)
		case "/missing/metrics":
			fmt.Fprint(w, "go_goroutines 7\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if d, ok := serverCPU(ctx, srv.Client(), srv.URL); !ok || d != 12340*time.Millisecond {
		t.Errorf("serverCPU = %v, %v; want 12.34s, true", d, ok)
	}
	if _, ok := serverCPU(ctx, srv.Client(), srv.URL+"/missing"); ok {
		t.Error("no process_cpu_seconds_total: want ok false")
	}
	if _, ok := serverCPU(ctx, srv.Client(), srv.URL+"/nothing"); ok {
		t.Error("404: want ok false")
	}
	if d, ok := processCPU(); !ok || d <= 0 {
		t.Errorf("processCPU = %v, %v; want this process's CPU time", d, ok)
	}
}
