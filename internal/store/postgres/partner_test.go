package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// TestTAXIIDateAddedAcrossNodes: two nodes on one database add objects to
// one collection at once, one of them with a clock a minute slow, while a
// partner pulls the way `intel pull` does (pages after a cursor, then
// added_after the newest date_added seen). Every call gets a date_added
// of its own, later than every call committed before it, so the puller
// sees every object exactly once and nothing is lost.
func TestTAXIIDateAddedAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes := openNodes(t, 2)
	const (
		writers = 4 // per node
		calls   = 20
		perCall = 3
	)
	type call struct {
		added time.Time
		ids   []string
	}
	var (
		mu   sync.Mutex
		done []call
		wg   sync.WaitGroup
	)
	for n, db := range nodes {
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := range calls {
					var objs []store.TAXIIObject
					var ids []string
					for j := range perCall {
						id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%04d%04d%04d", n, w*calls+c, j)
						objs = append(objs, store.TAXIIObject{ID: id, Type: "indicator", SpecVersion: "2.1",
							Version: time.Unix(1700000000, 0), Body: []byte(`{"id":"` + id + `"}`)})
						ids = append(ids, id)
					}
					requested := time.Now()
					if n == 1 {
						requested = requested.Add(-time.Minute)
					}
					res, err := db.AddTAXIIObjects(ctx, "indicators", objs, store.TAXIIStatus{Requested: requested})
					if err != nil || res.Refused != nil {
						t.Error(err, res.Refused)
						return
					}
					mu.Lock()
					done = append(done, call{res.DateAdded, ids})
					mu.Unlock()
				}
			}()
		}
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()

	// The puller, on the first node.
	seen := map[string]time.Time{}
	var mark time.Time
	pull := func() error {
		var after *store.TAXIICursor
		for {
			page, more, err := nodes[0].TAXIIObjects(ctx, store.TAXIIQuery{Collection: "indicators", AddedAfter: mark, After: after, Versions: []string{"all"}, Limit: 10})
			if err != nil {
				return err
			}
			for _, o := range page {
				if _, dup := seen[o.ID]; dup {
					return fmt.Errorf("%s pulled twice", o.ID)
				}
				seen[o.ID] = o.DateAdded
			}
			if len(page) > 0 {
				last := page[len(page)-1]
				after = &store.TAXIICursor{DateAdded: last.DateAdded, ID: last.ID, Version: last.Version}
			}
			if !more {
				if after != nil {
					mark = after.DateAdded
				}
				return nil
			}
		}
	}
	for running := true; running; {
		select {
		case <-finished:
			running = false
		default:
		}
		if err := pull(); err != nil {
			<-finished
			t.Fatal(err)
		}
	}
	if err := pull(); err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}

	dates := map[time.Time]bool{}
	for _, c := range done {
		if dates[c.added] {
			t.Errorf("two calls got date_added %v", c.added)
		}
		dates[c.added] = true
		for _, id := range c.ids {
			got, ok := seen[id]
			switch {
			case !ok:
				t.Errorf("%s (date_added %v) was skipped by the puller", id, c.added)
			case !got.Equal(c.added):
				t.Errorf("%s has date_added %v, its call returned %v", id, got, c.added)
			}
		}
	}
	if want := len(nodes) * writers * calls * perCall; len(seen) != want || len(done)*perCall != want {
		t.Errorf("pulled %d objects from %d calls, want %d", len(seen), len(done), want)
	}
}

// TestTAXIIObjectsAsStored: the body comes back byte for byte (key order,
// spacing, escapes: no JSONB), and an (id, version) twice in one call is
// stored once, as the first one.
func TestTAXIIObjectsAsStored(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	defer db.Close()
	id := "indicator--00000000-0000-4000-8000-000000000001"
	body := []byte("{\"type\":\"indicator\",  \"id\":\"" + id + "\",\n\t\"name\":\"caf\\u00e9\",\"a\":1.0}")
	o := store.TAXIIObject{ID: id, Type: "indicator", SpecVersion: "2.1", Version: time.Unix(1700000000, 0), Body: body}
	again := o
	again.Body = []byte(`{}`)
	if _, err := db.AddTAXIIObjects(ctx, "indicators", []store.TAXIIObject{o, again}, store.TAXIIStatus{Requested: time.Now()}); err != nil {
		t.Fatal(err)
	}
	page, _, err := db.TAXIIObjects(ctx, store.TAXIIQuery{Collection: "indicators", Versions: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || string(page[0].Body) != string(body) {
		t.Errorf("stored %q, got back %+v", body, page)
	}
}
