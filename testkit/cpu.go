package testkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CPU is the CPU time used so far by this process and by the Postgres
// backends serving one database, so that a benchmark run on a busy machine
// still tells what its work costs. Backends are read from /proc: Postgres
// runs on this machine in tests; on another host only Process is known.
// Host is the time every CPU of the machine has been busy, whoever for: it
// also counts what no process is charged with (the kernel's writeback and
// journal, Postgres's WAL writer), and whatever else runs beside.
type CPU struct {
	Process  time.Duration
	Host     time.Duration
	backends map[int32]time.Duration
}

// SampleCPU reads this process's CPU time and that of the backends
// connected to pool's database now.
func SampleCPU(tb testing.TB, pool *pgxpool.Pool) CPU {
	tb.Helper()
	s := CPU{Process: ProcessCPU(), Host: hostBusy(), backends: map[int32]time.Duration{}}
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		tb.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		tb.Fatal(err)
	}
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // Postgres on another host, or the backend ended
		}
		// utime and stime are the 12th and 13th fields after the
		// parenthesised command name, in clock ticks (1/100 s on Linux).
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		s.backends[pid] = time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return s
}

// Used is the CPU time used between an earlier sample and s, by this
// process and by the backends; a backend that started in between counts
// from its start.
func (s CPU) Used(earlier CPU) (process, postgres time.Duration) {
	for pid, t := range s.backends {
		postgres += t - earlier.backends[pid]
	}
	return s.Process - earlier.Process, postgres
}

// HostUsed is the time the machine's CPUs were busy between an earlier
// sample and s.
func (s CPU) HostUsed(earlier CPU) time.Duration { return s.Host - earlier.Host }

// hostBusy reads the time all CPUs spent busy from /proc/stat: user, nice,
// system, irq and softirq (not idle, iowait, or steal, which is another
// guest's), 0 where there is no /proc.
func hostBusy() time.Duration {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, _ := strconv.ParseInt(fields[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// ProcessCPU is the user and system CPU time this process has used.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
