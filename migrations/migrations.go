// Package migrations holds the Postgres schema that is not a read model
// (read models are built by their projections) and applies it.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers pgx5://
	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed backend/*.sql
var backend embed.FS

// Up applies every pending backend migration to the database at url
// (postgres:// or postgresql://). golang-migrate takes an advisory lock, so
// several processes starting at once apply each migration once.
func Up(url string) error {
	src, err := iofs.New(backend, "backend")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, pgx5URL(url))
	if err != nil {
		return fmt.Errorf("migrations: connect: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrations: up: %w", err)
	}
	return nil
}

// Check fails unless every migration of this build has been applied to the
// database at url, and changes nothing: for tools, which leave migrating to
// `rafiki migrate` and the services. A database migrated further by a
// newer build passes.
func Check(ctx context.Context, url string) error {
	latest, err := latestVersion()
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("migrations: connect: %w", err)
	}
	defer conn.Close(ctx)
	var version int64
	var dirty bool
	err = conn.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&version, &dirty)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01", errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("migrations: the database has none of the %d migrations this build needs: run `rafiki migrate`", latest)
	case err != nil:
		return fmt.Errorf("migrations: read the version: %w", err)
	case dirty:
		return fmt.Errorf("migrations: migration %d stopped half-way (dirty): repair it, then run `rafiki migrate`", version)
	case version < int64(latest):
		return fmt.Errorf("migrations: the database is at migration %d, this build needs %d: run `rafiki migrate`", version, latest)
	}
	return nil
}

// latestVersion is the version of the last migration this build holds.
func latestVersion() (uint, error) {
	files, err := fs.ReadDir(backend, "backend")
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	var latest uint
	for _, f := range files {
		m, err := source.Parse(f.Name())
		if err != nil {
			return 0, fmt.Errorf("migrations: %s: %w", f.Name(), err)
		}
		latest = max(latest, m.Version)
	}
	if latest == 0 {
		return 0, errors.New("migrations: none in this build")
	}
	return latest, nil
}

func pgx5URL(url string) string {
	for _, prefix := range []string{"postgresql://", "postgres://"} {
		if rest, ok := strings.CutPrefix(url, prefix); ok {
			return "pgx5://" + rest
		}
	}
	return url
}
