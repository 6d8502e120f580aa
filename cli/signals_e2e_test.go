//go:build unix

package cli_test

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// `mkfifo f; frameflow --credentials f api get /accounts` used to hang in
// open(2) with SIGINT and SIGTERM caught and ignored. Now the FIFO is refused
// at once, and a SIGTERM ends the process whatever it is doing.
func TestFIFOCredentialsAreRefusedAndSignalsWork(t *testing.T) {
	bin := frameflowBinary(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "creds")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--credentials", fifo, "--api-url", "http://127.0.0.1:9/v1", "api", "get", "/accounts")
	cmd.Env = []string{"HOME=" + dir, "FRAMEFLOW_STATE_DIR=" + dir}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("frameflow waited on a FIFO given as --credentials")
	}
	if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(out.String(), "is not a regular file (a named pipe)") {
		t.Fatalf("exit %d: %s", cmd.ProcessState.ExitCode(), out.String())
	}

	// SIGTERM ends a process waiting on a server that accepted the
	// connection and never answers; should the first one not be enough,
	// the second restores the default action.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	cmd = exec.Command(bin, "--api-url", "http://"+ln.Addr().String()+"/v1", "api", "get", "/accounts")
	cmd.Env = []string{"HOME=" + dir, "FRAMEFLOW_STATE_DIR=" + dir, "FRAME_CLIENT_ID=a", "FRAME_CLIENT_SECRET=b"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(500 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("frameflow did not wait for the stalled server; the test proves nothing")
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return
	case <-time.After(3 * time.Second):
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("two SIGTERMs did not end frameflow")
	}
}
