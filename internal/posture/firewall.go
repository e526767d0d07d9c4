package posture

import (
	"bytes"
	"slices"
	"strings"
)

// Firewall heuristic
//
// Without running programs or talking netlink, a collector cannot list the
// rules the kernel holds; it reads the configuration a firewall loads at
// boot instead. A host firewall counts as enabled when that configuration
// filters inbound traffic:
//
//   - ufw: /etc/ufw/ufw.conf says ENABLED=yes and /etc/default/ufw does not
//     set the inbound policy to ACCEPT;
//   - firewalld: its unit is enabled (every firewalld zone refuses
//     unsolicited inbound connections except to listed services);
//   - nftables: /etc/nftables.conf has a chain on the input hook with
//     policy drop, or a drop or reject rule in it;
//   - iptables: the rules persisted for boot (/etc/iptables/rules.v4,
//     /etc/sysconfig/iptables) give INPUT the policy DROP, or have a DROP or
//     REJECT rule in INPUT.
//
// Rules that only drop packets in state INVALID do not count: they do not
// keep anyone from connecting. The first match names the backend; with no
// match the firewall is reported off with no backend.

// nftablesFilters reports whether an nftables ruleset (nft -f syntax)
// has a chain on the input hook that drops or rejects.
func nftablesFilters(data []byte) bool {
	type block struct {
		chain  string // chain name; "" for other blocks
		inline bool   // an anonymous set or map inside a rule
		input  bool   // the chain is on the input hook
		drops  bool   // the chain has policy drop or a drop/reject rule
	}
	var (
		stack      []block
		stmt       []string
		inputs     = map[string]bool{} // chains on the input hook, by name
		flatDrops  = map[string]bool{} // chains given drop rules with "add rule"
		chainDrops bool
	)
	inChain := func() *block {
		for i := len(stack) - 1; i >= 0; i-- {
			if !stack[i].inline {
				if stack[i].chain != "" {
					return &stack[i]
				}
				return nil
			}
		}
		return nil
	}
	endStatement := func() {
		if len(stmt) == 0 {
			return
		}
		if c := inChain(); c != nil {
			if hasSeq(stmt, "hook", "input") {
				c.input = true
			}
			if hasSeq(stmt, "policy", "drop") || dropsPackets(stmt) && !slices.Contains(stmt, "policy") {
				c.drops = true
			}
		} else if len(stmt) >= 4 && (stmt[0] == "add" || stmt[0] == "insert") && stmt[1] == "rule" && dropsPackets(stmt) {
			i := 3 // add rule [family] table chain …
			if isNftFamily(stmt[2]) {
				i = 4
			}
			if i < len(stmt) {
				flatDrops[stmt[i]] = true
			}
		}
		stmt = stmt[:0]
	}
	for _, tok := range nftTokens(data) {
		switch tok {
		case ";", "\n":
			if len(stack) > 0 && stack[len(stack)-1].inline {
				continue // a newline inside an anonymous set
			}
			endStatement()
		case "{":
			if inChain() != nil {
				stack = append(stack, block{inline: true})
				continue
			}
			b := block{}
			if i := slices.Index(stmt, "chain"); i >= 0 && len(stmt) > i+1 {
				b.chain = stmt[len(stmt)-1]
			}
			stack = append(stack, b)
			stmt = stmt[:0]
		case "}":
			if len(stack) == 0 {
				stmt = stmt[:0]
				continue
			}
			top := stack[len(stack)-1]
			if top.inline {
				stack = stack[:len(stack)-1]
				continue
			}
			endStatement()
			stack = stack[:len(stack)-1]
			if top.chain != "" && top.input {
				inputs[top.chain] = true
				chainDrops = chainDrops || top.drops
			}
		default:
			stmt = append(stmt, tok)
		}
	}
	if chainDrops {
		return true
	}
	for name := range inputs {
		if flatDrops[name] {
			return true
		}
	}
	return false
}

// nftTokens splits nft syntax into words, with "{", "}", ";" and newlines
// as tokens of their own and comments removed.
func nftTokens(data []byte) []string {
	var toks []string
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, w := range strings.Fields(string(line)) {
			for w != "" {
				i := strings.IndexAny(w, "{};")
				if i < 0 {
					toks = append(toks, w)
					break
				}
				if i > 0 {
					toks = append(toks, w[:i])
				}
				toks = append(toks, w[i:i+1])
				w = w[i+1:]
			}
		}
		toks = append(toks, "\n")
	}
	return toks
}

func isNftFamily(s string) bool {
	switch s {
	case "ip", "ip6", "inet", "arp", "bridge", "netdev":
		return true
	}
	return false
}

// dropsPackets reports whether an nft rule's verdict is drop or reject,
// leaving out rules that only drop packets in state invalid.
func dropsPackets(stmt []string) bool {
	if !slices.Contains(stmt, "drop") && !slices.Contains(stmt, "reject") {
		return false
	}
	return !slices.Contains(stmt, "invalid")
}

// hasSeq reports whether the words a, b follow each other in s.
func hasSeq(s []string, a, b string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == a && s[i+1] == b {
			return true
		}
	}
	return false
}

// iptablesFilters reports whether iptables rules in iptables-save format
// (or a script of iptables commands) filter inbound traffic: the filter
// table's INPUT chain has policy DROP, or a DROP or REJECT rule.
func iptablesFilters(data []byte) bool {
	table := "filter"
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(string(line))
		if len(f) > 0 && (f[0] == "iptables" || f[0] == "/sbin/iptables" || f[0] == "/usr/sbin/iptables") {
			f = f[1:]
		}
		if len(f) == 0 {
			continue
		}
		if t, ok := strings.CutPrefix(f[0], "*"); ok {
			table = t
			continue
		}
		lineTable := table
		if i := slices.Index(f, "-t"); i >= 0 && i+1 < len(f) {
			lineTable = f[i+1]
			f = slices.Delete(slices.Clone(f), i, i+2)
		}
		if lineTable != "filter" || len(f) == 0 {
			continue
		}
		switch {
		case f[0] == ":INPUT" && len(f) > 1 && f[1] == "DROP":
			return true
		case (f[0] == "-P" || f[0] == "--policy") && len(f) > 2 && f[1] == "INPUT" && f[2] == "DROP":
			return true
		case (f[0] == "-A" || f[0] == "-I" || f[0] == "--append" || f[0] == "--insert") && len(f) > 1 && f[1] == "INPUT":
			if (hasSeq(f, "-j", "DROP") || hasSeq(f, "-j", "REJECT")) && !slices.Contains(f, "INVALID") {
				return true
			}
		}
	}
	return false
}
