// Package migrations holds the Postgres schema that is not a read model
// (read models are built by their projections) and applies it: one set for
// the backend's database (DATABASE_URL), one for the auth service's
// (AUTH_DATABASE_URL). Each database keeps its own version table.
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

//go:embed backend/*.sql auth/*.sql
var files embed.FS

// The sets, by their directory.
const (
	backend = "backend"
	auth    = "auth"
)

// Up applies every pending backend migration to the database at url
// (postgres:// or postgresql://). golang-migrate takes an advisory lock, so
// several processes starting at once apply each migration once.
func Up(url string) error { return up(backend, url) }

// UpAuth applies every pending auth migration to the auth database at url.
func UpAuth(url string) error { return up(auth, url) }

// Check fails unless every backend migration of this build has been applied
// to the database at url, and changes nothing: for tools, which leave
// migrating to `rafiki migrate` and the services. A database migrated
// further by a newer build passes.
func Check(ctx context.Context, url string) error { return check(ctx, backend, url) }

// CheckAuth is Check for the auth database.
func CheckAuth(ctx context.Context, url string) error { return check(ctx, auth, url) }

func up(set, url string) error {
	if err := guard(context.Background(), set, url); err != nil {
		return err
	}
	src, err := iofs.New(files, set)
	if err != nil {
		return fmt.Errorf("migrations %s: %w", set, err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, pgx5URL(url))
	if err != nil {
		return fmt.Errorf("migrations %s: connect: %w", set, err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrations %s: up: %w", set, err)
	}
	return nil
}

func check(ctx context.Context, set, url string) error {
	db, err := read(ctx, set, url)
	if err != nil {
		return err
	}
	defer db.conn.Close(ctx)
	switch {
	case !db.found:
		return fmt.Errorf("migrations %s: the database has none of the %d migrations this build needs: run `rafiki migrate`", set, db.latest)
	case db.dirty:
		return fmt.Errorf("migrations %s: migration %d stopped half-way (dirty): repair it, then run `rafiki migrate`", set, db.version)
	case db.version < int64(db.latest):
		return fmt.Errorf("migrations %s: the database is at migration %d, this build needs %d: run `rafiki migrate`", set, db.version, db.latest)
	}
	return nil
}

// guard refuses to migrate a database that is not this set's: one whose
// version table another application's golang-migrate keeps (migrating it
// would take that application's versions for ours and leave its table
// dirty), or one a newer build has migrated further.
func guard(ctx context.Context, set, url string) error {
	db, err := read(ctx, set, url)
	if err != nil {
		return err
	}
	defer db.conn.Close(ctx)
	switch {
	case !db.found:
		return nil
	case db.version > int64(db.latest):
		return fmt.Errorf("migrations %s: the database is at migration %d, newer than this build's %d: run the build that migrated it, or a newer one", set, db.version, db.latest)
	}
	// Every set's first migration makes projection_checkpoints.
	var ours bool
	if err := db.conn.QueryRow(ctx, `SELECT to_regclass('projection_checkpoints') IS NOT NULL`).Scan(&ours); err != nil {
		return fmt.Errorf("migrations %s: %w", set, err)
	}
	if !ours {
		return fmt.Errorf("migrations %s: the database holds another application's migrations (schema_migrations at %d, and none of this one's tables): its URL setting should name a database of its own", set, db.version)
	}
	return nil
}

// database is what a database says of its migrations, on a connection the
// caller closes.
type database struct {
	conn    *pgx.Conn
	latest  uint // this build's last migration of the set
	found   bool // the database has a version
	version int64
	dirty   bool
}

// read connects to the database at url and reads its migration version.
func read(ctx context.Context, set, url string) (database, error) {
	latest, err := latestVersion(set)
	if err != nil {
		return database{}, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return database{}, fmt.Errorf("migrations %s: connect: %w", set, err)
	}
	db := database{conn: conn, latest: latest, found: true}
	err = conn.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&db.version, &db.dirty)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01", errors.Is(err, pgx.ErrNoRows):
		db.found = false
	case err != nil:
		conn.Close(ctx)
		return database{}, fmt.Errorf("migrations %s: read the version: %w", set, err)
	}
	return db, nil
}

// latestVersion is the version of the last migration of a set this build
// holds.
func latestVersion(set string) (uint, error) {
	entries, err := fs.ReadDir(files, set)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	var latest uint
	for _, f := range entries {
		m, err := source.Parse(f.Name())
		if err != nil {
			return 0, fmt.Errorf("migrations: %s: %w", f.Name(), err)
		}
		latest = max(latest, m.Version)
	}
	if latest == 0 {
		return 0, fmt.Errorf("migrations: no %s migration in this build", set)
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
