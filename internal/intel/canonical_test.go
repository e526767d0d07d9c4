package intel

import (
	"slices"
	"testing"
)

// The canonicalisation examples published in the Google Safe Browsing API
// v4 "URLs and Hashing" documentation.
var safeBrowsingExamples = []struct{ in, want string }{
	{"http://host/%25%32%35", "http://host/%25"},
	{"http://host/%25%32%35%25%32%35", "http://host/%25%25"},
	{"http://host/%2525252525252525", "http://host/%25"},
	{"http://host/asdf%25%32%35asd", "http://host/asdf%25asd"},
	{"http://host/%%%25%32%35asd%%", "http://host/%25%25%25asd%25%25"},
	{"http://www.google.com/", "http://www.google.com/"},
	{"http://%31%36%38%2e%31%38%38%2e%39%39%2e%32%36/%2E%73%65%63%75%72%65/%77%77%77%2E%65%62%61%79%2E%63%6F%6D/", "http://168.188.99.26/.secure/www.ebay.com/"},
	{"http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/", "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/"},
	{"http://host%23.com/%257Ea%2521b%2540c%2523d%2524e%25f%255E00%252611%252A22%252833%252944_55%252B", "http://host%23.com/~a!b@c%23d$e%25f^00&11*22(33)44_55+"},
	{"http://3279880203/blah", "http://195.127.0.11/blah"},
	{"http://www.google.com/blah/..", "http://www.google.com/"},
	{"www.google.com/", "http://www.google.com/"},
	{"www.google.com", "http://www.google.com/"},
	{"http://www.evil.com/blah#frag", "http://www.evil.com/blah"},
	{"http://www.GOOgle.com/", "http://www.google.com/"},
	{"http://www.google.com.../", "http://www.google.com/"},
	{"http://www.google.com/foo\tbar\rbaz\n2", "http://www.google.com/foobarbaz2"},
	{"http://www.google.com/q?", "http://www.google.com/q?"},
	{"http://www.google.com/q?r?", "http://www.google.com/q?r?"},
	{"http://www.google.com/q?r?s", "http://www.google.com/q?r?s"},
	{"http://evil.com/foo#bar#baz", "http://evil.com/foo"},
	{"http://evil.com/foo;", "http://evil.com/foo;"},
	{"http://evil.com/foo?bar;", "http://evil.com/foo?bar;"},
	{"http://\x01\x80.com/", "http://%01%80.com/"},
	{"http://notrailingslash.com", "http://notrailingslash.com/"},
	{"http://www.gotaport.com:1234/", "http://www.gotaport.com/"},
	{"  http://www.google.com/  ", "http://www.google.com/"},
	{"http:// leadingspace.com/", "http://%20leadingspace.com/"},
	{"http://%20leadingspace.com/", "http://%20leadingspace.com/"},
	{"%20leadingspace.com/", "http://%20leadingspace.com/"},
	{"https://www.securesite.com/", "https://www.securesite.com/"},
	{"http://host.com/ab%23cd", "http://host.com/ab%23cd"},
	{"http://host.com//twoslashes?more//slashes", "http://host.com/twoslashes?more//slashes"},
}

func TestCanonicalURLSafeBrowsingExamples(t *testing.T) {
	for _, tt := range safeBrowsingExamples {
		got, err := CanonicalURL(tt.in)
		if err != nil {
			t.Errorf("CanonicalURL(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("CanonicalURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCanonicalURLMore(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"user info dropped", "http://user:pw@Evil.COM/x", "http://evil.com/x"},
		{"dot segments", "http://a.com/a/./b/../c", "http://a.com/a/c"},
		{"octal and hex IP", "http://0x7f.0.0.01/", "http://127.0.0.1/"},
		{"two-part IP", "http://10.258/", "http://10.0.1.2/"},
		{"not an IP: part too big", "http://256.1.1.1/", "http://256.1.1.1/"},
		{"trailing dot segment", "http://a.com/b/.", "http://a.com/b/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := CanonicalURL(tt.in); err != nil || got != tt.want {
				t.Errorf("CanonicalURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "http:///path", "   "} {
		if got, err := CanonicalURL(bad); err == nil {
			t.Errorf("CanonicalURL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestExpressions(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		// The examples of the Safe Browsing documentation.
		{"http://a.b.c/1/2.html?param=1", []string{
			"a.b.c/1/2.html?param=1", "a.b.c/1/2.html", "a.b.c/", "a.b.c/1/",
			"b.c/1/2.html?param=1", "b.c/1/2.html", "b.c/", "b.c/1/"}},
		{"http://a.b.c.d.e.f.g/1.html", []string{
			"a.b.c.d.e.f.g/1.html", "a.b.c.d.e.f.g/",
			"c.d.e.f.g/1.html", "c.d.e.f.g/", "d.e.f.g/1.html", "d.e.f.g/",
			"e.f.g/1.html", "e.f.g/", "f.g/1.html", "f.g/"}},
		{"http://1.2.3.4/1/", []string{"1.2.3.4/1/", "1.2.3.4/"}},
	} {
		got, err := Expressions(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sorted(got), sorted(tt.want)) {
			t.Errorf("Expressions(%q) =\n %q\nwant\n %q", tt.in, got, tt.want)
		}
	}
	long, _ := Expressions("http://a.b.c.d.e.f/1/2/3/4/5/6/7?q=1")
	if len(long) > 30 {
		t.Errorf("%d expressions, want at most 30", len(long))
	}
}

func TestDomainAndURLExpressionsMatch(t *testing.T) {
	dom, err := DomainExpression("Evil.Example.")
	if err != nil || dom != "evil.example/" {
		t.Fatalf("DomainExpression = %q, %v", dom, err)
	}
	u, err := URLExpression("HTTP://evil.example:443/pay/../login/#x")
	if err != nil || u != "evil.example/login/" {
		t.Fatalf("URLExpression = %q, %v", u, err)
	}
	exprs, _ := Expressions("https://secure.evil.example/login/step2?id=9")
	for _, want := range []string{dom, u} {
		if !slices.Contains(exprs, want) {
			t.Errorf("expressions of a visited URL %q lack %q", exprs, want)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Spellings of one host that a browser treats as the same place must
// canonicalise the same, or a listed phishing address is missed when it is
// looked up in another spelling.
func TestCanonicalURLEvasions(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		// Safe Browsing: an IDN host is looked up in its ASCII (Punycode)
		// form, which is what browsers put in location.href.
		{"IDN", "http://bücher.example/", "http://xn--bcher-kva.example/"},
		{"IDN upper case", "http://BÜCHER.Example/", "http://xn--bcher-kva.example/"},
		{"IDN escaped", "http://b%C3%BCcher.example/", "http://xn--bcher-kva.example/"},
		{"IDN ideographic dot", "http://bücher。example/", "http://xn--bcher-kva.example/"},
		{"IDN fullwidth dot", "http://bücher．example/", "http://xn--bcher-kva.example/"},
		{"IDN Cyrillic look-alike", "https://pаypal.com/login", "https://xn--pypal-4ve.com/login"},
		{"IDN several labels", "http://пример.испытание/", "http://xn--e1afmkfd.xn--80akhbyknj4f/"},
		{"Punycode kept", "http://XN--BCHER-KVA.example/", "http://xn--bcher-kva.example/"},
		// UTS #46 as browsers apply it: full-width letters fold to ASCII,
		// NFC joins a decomposed ü, and ß stays ß (non-transitional).
		{"IDN full-width", "http://ｅｘａｍｐｌｅ.com/", "http://example.com/"},
		{"IDN decomposed", "http://bu\u0308cher.example/", "http://xn--bcher-kva.example/"},
		{"IDN sharp s", "http://faß.de/", "http://xn--fa-hia.de/"},
		{"not UTF-8 stays escaped", "http://\x01\x80.com/", "http://%01%80.com/"},
		// IPv6 literals in every spelling of one address.
		{"IPv6 zeros", "http://[2001:DB8:0:0:0:0:0:1]:443/a", "http://[2001:db8::1]/a"},
		{"IPv6 compressed", "http://[2001:db8::1]/a", "http://[2001:db8::1]/a"},
		{"IPv6 leading zeros", "http://[2001:0db8::0001]/a", "http://[2001:db8::1]/a"},
		{"IPv6 escaped brackets", "http://%5B::1%5D/", "http://[::1]/"},
		// Browsers read a backslash in a web URL as a slash: the host
		// ends there, and what follows the '@' is path, not host.
		{"backslash before at", "http://evil.example\\@good.example/", "http://evil.example/@good.example/"},
		{"backslash path", "http://evil.example\\pay\\login", "http://evil.example/pay/login"},
		// Browsers forgive missing or backward slashes after http(s):.
		{"one slash", "http:/evil.example/x", "http://evil.example/x"},
		{"no slash", "https:evil.example/x", "https://evil.example/x"},
		{"backslashes", "http:\\\\evil.example\\x", "http://evil.example/x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := CanonicalURL(tt.in); err != nil || got != tt.want {
				t.Errorf("CanonicalURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"http://[::1", "http://[evil.example]/", "http://[1.2.3.4]/", "http://[::1]x/"} {
		if got, err := CanonicalURL(bad); err == nil {
			t.Errorf("CanonicalURL(%q) = %q, want an error", bad, got)
		}
	}
	// A URL listed in one spelling is found when visited in another.
	u, err := URLExpression("http://bücher.example/login")
	if err != nil {
		t.Fatal(err)
	}
	exprs, _ := Expressions("http://www.xn--bcher-kva.example/login")
	if !slices.Contains(exprs, u) {
		t.Errorf("expressions %q lack the listed %q", exprs, u)
	}
}

func TestNormalizeDomain(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Evil.Example.", "evil.example"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"evil.example:443", "evil.example"},
		{"my_host.evil.example", "my_host.evil.example"},
	} {
		n, err := Normalize(TypeDomain, tt.in)
		if err != nil || n.Value != tt.want {
			t.Errorf("Normalize(domain, %q) = %q, %v; want %q", tt.in, n.Value, err, tt.want)
		}
	}
	// Values no browser can have as a host would never match: refuse them
	// rather than list something that protects nobody.
	for _, bad := range []string{"*.evil.example", "evil .example", "evil%00.example", "evil\x80.example", "evil!.example"} {
		if n, err := Normalize(TypeDomain, bad); err == nil {
			t.Errorf("Normalize(domain, %q) = %q, want an error", bad, n.Value)
		}
	}
}
