package server_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/healthgate/healthgate/evidence"
)

// BenchmarkReport measures one report through the whole server path:
// HTTP handler, evidence parse and verify, nonce check, policy appraisal,
// group-committed store write and certificate signing. The evidence is
// signed before the timer starts (that is the device's cost).
func BenchmarkReport(b *testing.B) {
	e := newEnv(b)
	devs := make([]*device, 64)
	for i := range devs {
		devs[i] = e.enroll()
	}
	tokens := make([][]byte, b.N)
	for i := range tokens {
		d := devs[i%len(devs)]
		tokens[i] = d.sign(d.claims(d.nonce()), d.key)
	}
	h := e.srv.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(16) // the group commit pays only when reports arrive together
	next := make(chan int, b.N)
	for n := range b.N {
		next <- n
	}
	close(next)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := <-next
			req := httptest.NewRequest(http.MethodPost, "/v1/reports", bytes.NewReader(tokens[n]))
			req.Header.Set("Content-Type", evidence.MediaType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("report %d: %d %s", n, rec.Code, rec.Body)
			}
		}
	})
}
