package tpmtest

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpmutil"
)

// eventNoAction is EV_NO_ACTION: information for the log's reader, never
// extended into a PCR.
const eventNoAction = 0x03

// ExtendPCRs extends the TPM's SHA-256 PCRs with the SHA-256 digests of a
// firmware event log's events, in order, so the log replays against the
// PCRs as it would on the platform that booted with it. Call it before
// anything else connects: the simulator serves one connection at a time.
// The log must not start PCR 0 at another locality (a StartupLocality
// event): extending cannot reproduce that.
func (tpm *TPM) ExtendPCRs(t testing.TB, eventLog []byte) {
	t.Helper()
	el, err := attest.ParseEventLog(eventLog)
	if err != nil {
		t.Fatalf("parsing the event log: %v", err)
	}
	conn, err := net.DialTimeout("tcp", tpm.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rw := &commandChannel{conn: conn}
	defer rw.Close()
	// Events(…) gives the events unverified, which is what extending needs.
	for _, e := range el.Events(attest.HashSHA256) {
		if e.Type == eventNoAction {
			continue
		}
		if len(e.Digest) == 0 {
			t.Fatalf("event %d (PCR %d) has no SHA-256 digest", e.Type, e.Index)
		}
		if err := tpm2.PCRExtend(rw, tpmutil.Handle(e.Index), tpm2.AlgSHA256, e.Digest, ""); err != nil {
			t.Fatalf("extending PCR %d: %v", e.Index, err)
		}
	}
}

// commandChannel speaks the Microsoft simulator command framing on swtpm's
// command port (internal/devicekey/tpm_sim.go has the agent's own).
type commandChannel struct {
	conn net.Conn
	resp []byte
}

func (c *commandChannel) Write(cmd []byte) (int, error) {
	frame := binary.BigEndian.AppendUint32(nil, 8) // TPM_SEND_COMMAND
	frame = append(frame, 0)                       // locality
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(cmd)))
	if _, err := c.conn.Write(append(frame, cmd...)); err != nil {
		return 0, err
	}
	var size uint32
	if err := binary.Read(c.conn, binary.BigEndian, &size); err != nil {
		return 0, err
	}
	if size > 1<<16 {
		return 0, fmt.Errorf("response of %d bytes", size)
	}
	buf := make([]byte, size+4) // the response, then an acknowledgement
	if _, err := io.ReadFull(c.conn, buf); err != nil {
		return 0, err
	}
	c.resp = buf[:size]
	return len(cmd), nil
}

func (c *commandChannel) Read(b []byte) (int, error) {
	if len(c.resp) == 0 {
		return 0, io.EOF
	}
	n := copy(b, c.resp)
	c.resp = c.resp[n:]
	return n, nil
}

func (c *commandChannel) Close() error {
	binary.Write(c.conn, binary.BigEndian, uint32(20)) // TPM_SESSION_END
	return c.conn.Close()
}

// LoadedHandles lists the transient objects and the sessions loaded in the
// TPM, which a client must flush when it is done as there is no resource
// manager. Call it while nothing else is connected.
func (tpm *TPM) LoadedHandles(t testing.TB) []tpmutil.Handle {
	t.Helper()
	conn, err := net.DialTimeout("tcp", tpm.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rw := &commandChannel{conn: conn}
	defer rw.Close()
	var out []tpmutil.Handle
	for _, first := range []tpm2.HandleType{tpm2.HandleTypeTransient, tpm2.HandleTypeLoadedSession} {
		vals, _, err := tpm2.GetCapability(rw, tpm2.CapabilityHandles, 64, uint32(first)<<24)
		if err != nil {
			t.Fatalf("listing handles: %v", err)
		}
		for _, v := range vals {
			if h := v.(tpmutil.Handle); uint32(h)>>24 == uint32(first) {
				out = append(out, h)
			}
		}
	}
	return out
}
