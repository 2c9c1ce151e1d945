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
type CPU struct {
	Process  time.Duration
	backends map[int32]time.Duration
}

// SampleCPU reads this process's CPU time and that of the backends
// connected to pool's database now.
func SampleCPU(tb testing.TB, pool *pgxpool.Pool) CPU {
	tb.Helper()
	s := CPU{Process: ProcessCPU(), backends: map[int32]time.Duration{}}
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

// ProcessCPU is the user and system CPU time this process has used.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
