package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/issuer"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/token"
)

// What docs/API.md and the server promise about the JWKS: relying parties
// may cache it for 5 minutes, and every node reloads the keys every minute.
const (
	jwksMaxAge   = 5 * time.Minute
	refreshEvery = time.Minute
)

func kidOf(t testing.TB, tok []byte) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.SplitN(string(tok), ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(h, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.Kid
}

func node(t testing.TB, keys issuer.Keys, now func() time.Time, seed byte, l issuer.Lifetimes) *issuer.Issuer {
	t.Helper()
	iss, err := issuer.New(context.Background(), keys, issuer.Options{Issuer: "https://healthgate.example", Now: now,
		Rand: rand.NewChaCha8([32]byte{seed}), Lifetimes: l})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func verifyWith(t testing.TB, tok, jwks []byte, at time.Time, opts ...token.Option) error {
	t.Helper()
	keys, err := token.ParseJWKS(jwks)
	if err != nil {
		t.Fatal(err)
	}
	_, err = token.Verify(context.Background(), tok, keys, append([]token.Option{token.WithNow(func() time.Time { return at })}, opts...)...)
	return err
}

func activeKeys(t testing.TB, db *sqlite.DB) int {
	t.Helper()
	keys, err := db.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range keys {
		if k.Retired.IsZero() {
			n++
		}
	}
	return n
}

// A relying party that fetched the JWKS just before a rotation keeps it for
// its max-age; every certificate issued meanwhile must verify with it. So
// must certificates issued by a node that has not yet reloaded the keys.
func TestRotationPrePublishes(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	clk := &clock{t: epoch}
	iss := node(t, db, clk.Now, 1, issuer.Lifetimes{})
	oldKID := iss.KeyIDs()[0]
	cached := iss.JWKS()
	if err := iss.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(iss.KeyIDs()); got != 2 {
		t.Fatalf("after rotation %d keys published, want 2 (old and new)", got)
	}
	for off := time.Duration(0); off <= jwksMaxAge+refreshEvery; off += 30 * time.Second {
		clk.t = epoch.Add(off)
		if err := iss.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		tok, _, err := iss.Issue(request(token.TierAffirming))
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyWith(t, tok, cached, clk.t); err != nil {
			t.Fatalf("%v after rotation: certificate (kid %s) does not verify with the JWKS cached before it: %v", off, kidOf(t, tok), err)
		}
	}
	clk.t = epoch.Add(time.Hour)
	if err := iss.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.Issue(request(token.TierAffirming))
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, tok) == oldKID {
		t.Error("an hour after rotation the retired key still signs")
	}
}

// Two nodes sharing a store rotate at the same moment. Neither may sign
// with a key the other does not publish, and they must end with one
// active key.
func TestConcurrentRotation(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	clk := &clock{t: epoch}
	a := node(t, db, clk.Now, 1, issuer.Lifetimes{})
	b := node(t, db, clk.Now, 2, issuer.Lifetimes{})
	clk.t = epoch.Add(time.Hour)
	if err := a.Rotate(ctx); err != nil {
		t.Fatalf("node a: %v", err)
	}
	if err := b.Rotate(ctx); err != nil { // b has not seen a's rotation
		t.Fatalf("node b: %v", err)
	}
	for off := time.Duration(0); off <= 2*time.Hour; off += refreshEvery {
		clk.t = epoch.Add(time.Hour + off)
		ta, _, err := a.Issue(request(token.TierAffirming))
		if err != nil {
			t.Fatal(err)
		}
		tb, _, err := b.Issue(request(token.TierAffirming))
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyWith(t, ta, b.JWKS(), clk.t); err != nil {
			t.Fatalf("%v after rotation: node a's certificate fails with node b's JWKS: %v", off, err)
		}
		if err := verifyWith(t, tb, a.JWKS(), clk.t); err != nil {
			t.Fatalf("%v after rotation: node b's certificate fails with node a's JWKS: %v", off, err)
		}
		if err := a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ta, _, _ := a.Issue(request(token.TierAffirming))
	tb, _, _ := b.Issue(request(token.TierAffirming))
	if ka, kb := kidOf(t, ta), kidOf(t, tb); ka != kb {
		t.Errorf("nodes sign with different keys: %s and %s", ka, kb)
	}
	if got := activeKeys(t, db); got != 1 {
		t.Errorf("%d active keys in the store, want 1", got)
	}
}

// A retired key stays published until the last certificate it signed, on
// any node, has expired beyond the leeway a relying party may allow.
func TestRetiredKeyOutlivesItsCertificates(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	clk := &clock{t: epoch}
	l := issuer.DefaultLifetimes()
	l.Affirming = l.Max // certificates as long as allowed
	a := node(t, db, clk.Now, 1, l)
	b := node(t, db, clk.Now, 2, l)
	oldKID := a.KeyIDs()[0]
	clk.t = epoch.Add(time.Hour)
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	var last []byte
	var lastExp time.Time
	// b reloads the keys a minute after a rotated, as the server does.
	for off := time.Duration(0); off <= time.Hour; off += 10 * time.Second {
		clk.t = epoch.Add(time.Hour + off)
		if off%refreshEvery == 0 && off > 0 {
			if err := a.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if err := b.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range []*issuer.Issuer{a, b} {
			tok, c, err := n.Issue(request(token.TierAffirming))
			if err != nil {
				t.Fatal(err)
			}
			if kidOf(t, tok) == oldKID && !c.ExpiresAt().Before(lastExp) {
				last, lastExp = tok, c.ExpiresAt()
			}
		}
	}
	if last == nil {
		t.Fatal("no certificate signed with the old key")
	}
	clk.t = lastExp.Add(token.MaxLeeway - time.Second)
	for name, n := range map[string]*issuer.Issuer{"a": a, "b": b} {
		if err := n.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if err := verifyWith(t, last, n.JWKS(), clk.t, token.WithLeeway(token.MaxLeeway)); err != nil {
			t.Errorf("node %s: last certificate of the retired key, still valid within the leeway, fails: %v", name, err)
		}
	}
	clk.t = lastExp.Add(24 * time.Hour)
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(a.KeyIDs()); got != 1 {
		t.Errorf("a day after its last certificate expired, %d keys published, want 1", got)
	}
}

// flakyKeys is a store whose writes fail on demand.
type flakyKeys struct {
	*sqlite.DB
	failAdd, failRetire, failDelete bool
}

var errStore = errors.New("store unavailable")

func (f *flakyKeys) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	if f.failAdd {
		return errStore
	}
	return f.DB.AddSigningKey(ctx, k)
}

func (f *flakyKeys) RetireSigningKey(ctx context.Context, kid string, at time.Time) error {
	if f.failRetire {
		return errStore
	}
	return f.DB.RetireSigningKey(ctx, kid, at)
}

func (f *flakyKeys) DeleteSigningKey(ctx context.Context, kid string) error {
	if f.failDelete {
		return errStore
	}
	return f.DB.DeleteSigningKey(ctx, kid)
}

// A store error in the middle of a rotation must leave one signing key,
// published, once the store is back; a failing delete must not stop a node
// from loading the keys other nodes rotated in.
func TestRotationStoreErrors(t *testing.T) {
	ctx := context.Background()

	t.Run("add fails", func(t *testing.T) {
		db := openDB(t)
		clk := &clock{t: epoch}
		f := &flakyKeys{DB: db}
		iss := node(t, f, clk.Now, 1, issuer.Lifetimes{})
		f.failAdd = true
		if err := iss.Rotate(ctx); err == nil {
			t.Error("Rotate hid a store error")
		}
		tok, _, err := iss.Issue(request(token.TierAffirming))
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyWith(t, tok, iss.JWKS(), clk.t); err != nil {
			t.Error(err)
		}
	})

	t.Run("retire fails", func(t *testing.T) {
		db := openDB(t)
		clk := &clock{t: epoch}
		f := &flakyKeys{DB: db}
		iss := node(t, f, clk.Now, 1, issuer.Lifetimes{})
		f.failRetire = true
		_ = iss.Rotate(ctx) // may report the error
		f.failRetire = false
		for off := time.Duration(0); off <= time.Hour; off += refreshEvery {
			clk.t = epoch.Add(off)
			if err := iss.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			tok, _, err := iss.Issue(request(token.TierAffirming))
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyWith(t, tok, iss.JWKS(), clk.t); err != nil {
				t.Fatal(err)
			}
		}
		if got := activeKeys(t, db); got != 1 {
			t.Errorf("%d active keys in the store after the store recovered, want 1", got)
		}
	})

	t.Run("delete fails", func(t *testing.T) {
		db := openDB(t)
		clk := &clock{t: epoch}
		f := &flakyKeys{DB: db}
		a := node(t, f, clk.Now, 1, issuer.Lifetimes{})
		b := node(t, db, clk.Now, 2, issuer.Lifetimes{})
		if err := b.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		clk.t = epoch.Add(3 * 24 * time.Hour) // the first key may go
		f.failDelete = true
		if err := a.Rotate(ctx); err != nil {
			t.Logf("Rotate: %v", err)
		}
		clk.t = clk.t.Add(time.Hour)
		if err := a.Refresh(ctx); err != nil {
			t.Fatalf("Refresh with a failing delete: %v", err)
		}
		if err := b.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		tok, _, err := a.Issue(request(token.TierAffirming))
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyWith(t, tok, b.JWKS(), clk.t); err != nil {
			t.Errorf("node a's certificate fails with node b's JWKS: %v", err)
		}
		if got := activeKeys(t, db); got != 1 {
			t.Errorf("%d active keys in the store, want 1", got)
		}
	})
}

func TestLifetimesWithinVerifierBound(t *testing.T) {
	l := issuer.DefaultLifetimes()
	l.Max, l.Affirming = 2*token.DefaultMaxLifetime, 2*token.DefaultMaxLifetime
	if err := l.Validate(); err == nil {
		t.Errorf("Validate accepted certificates of %v, which token.Verify rejects (at most %v)", l.Affirming, token.DefaultMaxLifetime)
	}
}
