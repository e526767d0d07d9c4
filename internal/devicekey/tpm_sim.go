package devicekey

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/google/go-tpm/legacy/tpm2"
)

// The Microsoft TPM simulator command framing ("TPM2 Specification Part 4",
// D.3.2), which swtpm also speaks on its TCP server port.
const (
	simSendCommand uint32 = 8
	simSessionEnd  uint32 = 20
)

// simulatorChannel sends TPM commands to a simulator's command port.
//
// go-tpm's tpmutil/mssim implements the same framing, but mssim.Open first
// power-cycles the simulator through the Microsoft platform port, and
// swtpm's control port speaks swtpm's own protocol instead (as tpm2-tss's
// separate "swtpm" TCTI shows). So the command framing is done here and the
// TPM is expected to be started already; transient objects are flushed by
// whoever loads them, as there is no resource manager either.
type simulatorChannel struct {
	mu      sync.Mutex
	conn    net.Conn
	pending bytes.Reader
	// eventLog is the firmware event log the simulated platform presents
	// (TPMOptions.SimulatorEventLog), nil for none.
	eventLog []byte
}

// openSimulator connects to a simulator's command port and makes sure the
// TPM has had TPM2_Startup.
func openSimulator(addr string) (*simulatorChannel, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("tpm simulator: %w", err)
	}
	c := &simulatorChannel{conn: conn}
	if err := tpm2.Startup(c, tpm2.StartupClear); err != nil {
		var rc tpm2.Error
		if !errors.As(err, &rc) || rc.Code != tpm2.RCInitialize { // RCInitialize: already started
			conn.Close()
			return nil, fmt.Errorf("tpm simulator %s: startup: %w", addr, err)
		}
	}
	return c, nil
}

// Write sends one whole command.
func (c *simulatorChannel) Write(cmd []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending.Len() > 0 {
		return 0, errors.New("tpm simulator: previous response not read")
	}
	frame := make([]byte, 0, 9+len(cmd))
	frame = binary.BigEndian.AppendUint32(frame, simSendCommand)
	frame = append(frame, 0) // locality
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(cmd)))
	frame = append(frame, cmd...)
	if _, err := c.conn.Write(frame); err != nil {
		return 0, err
	}
	// The answer: size, response, then a uint32 acknowledgement (0).
	var size uint32
	if err := binary.Read(c.conn, binary.BigEndian, &size); err != nil {
		return 0, fmt.Errorf("tpm simulator: reading response size: %w", err)
	}
	if size > 1<<16 {
		return 0, fmt.Errorf("tpm simulator: response of %d bytes", size)
	}
	resp := make([]byte, size+4)
	if _, err := io.ReadFull(c.conn, resp); err != nil {
		return 0, fmt.Errorf("tpm simulator: reading response: %w", err)
	}
	if ack := binary.BigEndian.Uint32(resp[size:]); ack != 0 {
		return 0, fmt.Errorf("tpm simulator: command not acknowledged (%d)", ack)
	}
	c.pending.Reset(resp[:size])
	return len(cmd), nil
}

// Read returns the response to the last command.
func (c *simulatorChannel) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending.Len() == 0 {
		return 0, io.EOF
	}
	return c.pending.Read(b)
}

// Close ends the session so the simulator takes the next connection.
func (c *simulatorChannel) Close() error {
	binary.Write(c.conn, binary.BigEndian, simSessionEnd)
	return c.conn.Close()
}

// MeasurementLog implements attest.CommandChannelTPM20; a simulator has no
// firmware event log unless one was given.
func (c *simulatorChannel) MeasurementLog() ([]byte, error) {
	if c.eventLog == nil {
		return nil, errors.New("tpm simulator: no measurement log")
	}
	return c.eventLog, nil
}
