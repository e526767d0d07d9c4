package posture

import (
	"bytes"
	"strings"
)

// parseAssignments calls fn for every shell-style variable assignment in
// data: lines such as
//
//	NAME=value
//	export NAME="quoted value" OTHER='single'
//
// the format of os-release, ufw.conf, /etc/environment and most of
// /etc/profile.d. Quotes are removed and backslash escapes undone as the
// shell would; $expansions are kept as written. Comment lines, commands
// and lines that do not parse are skipped. It never runs anything.
func parseAssignments(data []byte, fn func(name, value string)) {
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		s := string(line)
		for {
			s = strings.TrimLeft(s, " \t")
			if rest, ok := strings.CutPrefix(s, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
				s = strings.TrimLeft(rest, " \t")
			}
			name, value, rest, ok := parseAssignment(s)
			if !ok {
				break
			}
			fn(name, value)
			s = rest
		}
	}
}

// parseAssignment parses one NAME=value word at the start of s and returns
// the rest of s after it.
func parseAssignment(s string) (name, value, rest string, ok bool) {
	eq := strings.IndexByte(s, '=')
	if eq <= 0 || !isShellName(s[:eq]) {
		return "", "", "", false
	}
	name = s[:eq]
	var b strings.Builder
	i := eq + 1
	for i < len(s) {
		switch c := s[i]; c {
		case ' ', '\t', '\r':
			return name, b.String(), s[i:], true
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", "", "", false
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case '"':
			i++
			for {
				if i >= len(s) {
					return "", "", "", false
				}
				c := s[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
					c = s[i]
				}
				b.WriteByte(c)
				i++
			}
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
			i++
		case ';':
			// The end of the command; another may follow.
			return name, b.String(), s[i+1:], true
		case '&', '|', '<', '>', '(', ')':
			// The end of the word: what follows is not an assignment.
			return name, b.String(), "", true
		default:
			b.WriteByte(c)
			i++
		}
	}
	return name, b.String(), "", true
}

// isShellName reports whether s is a shell variable name.
func isShellName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}
