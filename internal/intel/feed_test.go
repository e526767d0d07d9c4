package intel

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

func mustSet(t testing.TB, entries ...Entry) *Set {
	t.Helper()
	s, err := NewSet(entries)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var hashA = strings.Repeat("a", 64)

func TestSetApplyAndChecksum(t *testing.T) {
	s := mustSet(t,
		Entry{KindPrefix, "0000000f"}, Entry{KindPrefix, "00000001"}, Entry{KindPrefix, "00000001"},
		Entry{KindSHA256, hashA}, Entry{KindIP, "192.0.2.1"}, Entry{KindIP, "10.0.0.0/8"}, Entry{KindTool, "anydesk"})
	if s.Len() != 6 || !slices.Equal(s.Prefixes, []uint32{1, 15}) {
		t.Fatalf("set = %+v", s)
	}
	if !s.HasPrefix(15) || s.HasPrefix(2) || !s.HasSHA256(strings.ToUpper(hashA)) || s.HasSHA256("aa") {
		t.Error("lookups wrong")
	}
	if !s.MatchIP("10.1.2.3") || !s.MatchIP("192.0.2.1") || !s.MatchIP("::ffff:192.0.2.1") || s.MatchIP("192.0.2.2") || s.MatchIP("junk") {
		t.Error("IP matching wrong")
	}
	if tool, ok := s.MatchTool("AnyDesk.exe"); !ok || tool != "anydesk" {
		t.Error("tool matching wrong")
	}
	if tool, ok := s.MatchTool("NotAnyDesk.exe"); ok {
		t.Errorf("NotAnyDesk.exe matched %s: a tool's name inside a longer word is another program", tool)
	}
	// The checksum is of the canonical text form, computed independently.
	want := mustSet(t, Entry{KindTool, "anydesk"}, Entry{KindIP, "192.0.2.1"}, Entry{KindIP, "10.0.0.0/8"},
		Entry{KindSHA256, hashA}, Entry{KindPrefix, "00000001"}, Entry{KindPrefix, "0000000f"}).Checksum()
	if s.Checksum() != want {
		t.Error("checksum depends on insertion order")
	}
	before := s.Checksum()
	if err := s.Apply(Entries{Prefixes: Prefixes{1, 99}, Tool: []string{"anydesk"}}, Entries{Prefixes: Prefixes{7, 15}, Cert: []string{hashA}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Prefixes, []uint32{7, 15}) || len(s.Tool) != 0 || !s.HasCert(hashA) || s.Checksum() == before {
		t.Errorf("after apply: %+v", s)
	}
	// A bad delta leaves the set alone.
	snap := s.Checksum()
	for _, bad := range []Entries{
		{SHA256: []string{"XYZ"}},
		{IP: []string{"1.2.3.4/8"}}, // not masked: not canonical
		{Tool: []string{"Any/Desk"}},
	} {
		if err := s.Apply(Entries{}, bad); err == nil {
			t.Errorf("Apply(%+v) accepted", bad)
		}
	}
	if s.Checksum() != snap {
		t.Error("a refused delta changed the set")
	}
}

func TestEntriesJSON(t *testing.T) {
	e := Entries{Prefixes: Prefixes{0x01020304, 0xffffffff}, Tool: []string{"anydesk"}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"prefixes":"AQIDBP////8=","tool":["anydesk"]}`; string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	var back Entries
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back.Prefixes, e.Prefixes) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	for _, bad := range []string{`{"prefixes":"AQID"}`, `{"prefixes":"!!"}`, `{"prefixes":[1,2]}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tt := range []struct {
		typ       Type
		in, value string
		kind      Kind
	}{
		{TypeSHA256, strings.ToUpper(hashA), hashA, KindSHA256},
		{TypeCert, strings.Repeat("AB:", 31) + "AB", strings.Repeat("ab", 32), KindCert},
		{TypeURL, "HTTP://Evil.Example:80/a/../login?x=1#f", "http://evil.example/login?x=1", KindPrefix},
		{TypeDomain, "WWW.Evil.Example.", "www.evil.example", KindPrefix},
		{TypeIP, "::ffff:192.0.2.1", "192.0.2.1", KindIP},
		{TypeIP, "2001:db8::1/64", "2001:db8::/64", KindIP},
		{TypeIP, "192.0.2.7/32", "192.0.2.7", KindIP},
		{TypeTool, " TeamViewer ", "teamviewer", KindTool},
		{TypePayee, "acct-123", "acct-123", ""},
	} {
		n, err := Normalize(tt.typ, tt.in)
		if err != nil || n.Value != tt.value || n.Entry.Kind != tt.kind {
			t.Errorf("Normalize(%s, %q) = %+v, %v; want %q %q", tt.typ, tt.in, n, err, tt.value, tt.kind)
		}
	}
	u, _ := Normalize(TypeURL, "http://evil.example/login/")
	if want := FormatPrefix(HashPrefix("evil.example/login/")); u.Entry.Value != want || !strings.HasPrefix(u.FullHash, want) {
		t.Errorf("url entry = %+v, want prefix %s", u, want)
	}
	for _, bad := range []struct {
		typ Type
		v   string
	}{
		{TypeSHA256, "abc"}, {TypeURL, "ftp://x.example/"}, {TypeURL, ""}, {TypeDomain, "localhost"}, {TypeDomain, "a.example/path"},
		{TypeIP, "1.2.3"}, {TypeIP, "0.0.0.0/0"}, {TypeIP, "fe80::1%eth0"}, {TypeTool, "ab"}, {TypeTool, "C:\\x.exe"}, {"colour", "red"},
	} {
		if n, err := Normalize(bad.typ, bad.v); err == nil {
			t.Errorf("Normalize(%s, %q) = %+v, want an error", bad.typ, bad.v, n)
		}
	}
}

func TestTTLAndDecay(t *testing.T) {
	if d, err := TTL(TypeURL, 0); err != nil || d != 7*day {
		t.Errorf("url default = %v, %v", d, err)
	}
	if d, err := TTL(TypeTool, 0); err != nil || d != 0 {
		t.Errorf("tool default = %v, %v (want no decay)", d, err)
	}
	if _, err := TTL(TypeURL, 365*day); err == nil {
		t.Error("a year for a phishing URL was accepted")
	}
	if _, err := TTL(TypeSHA256, 30*day); err != nil {
		t.Error(err)
	}
	start := t0
	if got := Decayed(80, start, start.Add(10*day), start.Add(5*day)); got != 40 {
		t.Errorf("half-way decay = %d, want 40", got)
	}
	if got := Decayed(80, start, start.Add(10*day), start.Add(11*day)); got != 0 {
		t.Errorf("after expiry = %d", got)
	}
	if got := Decayed(80, start, time.Time{}, start.Add(1000*day)); got != 80 {
		t.Errorf("no expiry: %d, want 80", got)
	}
}

func TestPrefixIndex(t *testing.T) {
	in := randomPrefixes(100_000, 7)
	in = append(in, 0, 0xffffffff, 0x0000ffff, 0xffff0000)
	s := &Set{}
	if err := s.Apply(Entries{}, Entries{Prefixes: in}); err != nil {
		t.Fatal(err)
	}
	member := map[uint32]bool{}
	for _, p := range in {
		member[p] = true
	}
	for _, p := range in {
		if !s.HasPrefix(p) {
			t.Fatalf("member %08x not found", p)
		}
	}
	for _, p := range randomPrefixes(100_000, 8) {
		if s.HasPrefix(p) != member[p] {
			t.Fatalf("HasPrefix(%08x) = %v", p, !member[p])
		}
	}
	// After a delta the index is rebuilt.
	if err := s.Apply(Entries{Prefixes: Prefixes{0xffffffff}}, Entries{Prefixes: Prefixes{0x12345678}}); err != nil {
		t.Fatal(err)
	}
	if s.HasPrefix(0xffffffff) || !s.HasPrefix(0x12345678) || !s.HasPrefix(in[0]) {
		t.Error("lookups wrong after a delta")
	}
}
