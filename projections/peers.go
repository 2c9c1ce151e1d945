package projections

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rafiki-go/rafiki/events"
)

// Peers is the read model of peers and their incoming auth tokens. Its
// consumer is projection_peers, filtered on events.*.peer.>. Secrets opens
// the peers' tokens, which the log keeps sealed; a peer whose data key was
// shredded has an empty outgoing token and no incoming tokens.
type Peers struct {
	Secrets Opener
}

func (Peers) Name() string { return "peers" }

func (Peers) Tables() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS peers (
			id                  uuid PRIMARY KEY,
			tenant_id           uuid NOT NULL,
			asset_id            uuid NOT NULL,
			static_ilp_address  text NOT NULL,
			name                text,
			max_packet_amount   numeric(20),
			liquidity_threshold numeric(20),
			outgoing_token      text NOT NULL,
			outgoing_endpoint   text NOT NULL,
			routes              text[] NOT NULL DEFAULT '{}',
			created_at          timestamptz NOT NULL,
			updated_at          timestamptz NOT NULL,
			deleted_at          timestamptz,
			version             bigint NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS peers_page ON peers (created_at, id)`,
		`CREATE INDEX IF NOT EXISTS peers_asset_address ON peers (asset_id, static_ilp_address) WHERE deleted_at IS NULL`,
		// A token is unique: the event store's claims guarantee it, and a
		// released token is deleted here (in stream order) before another
		// peer's event takes it.
		`CREATE TABLE IF NOT EXISTS peer_incoming_tokens (
			token   text PRIMARY KEY,
			peer_id uuid NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS peer_incoming_tokens_peer ON peer_incoming_tokens (peer_id)`,
	}
}

func (p Peers) Apply(b *pgx.Batch, env events.Envelope, ev events.Event) error {
	ev, err := openSecrets(p.Secrets, env, ev)
	if err != nil {
		return err
	}
	id, at, seq := env.AggregateID, env.Time, int64(env.Sequence)
	switch e := ev.(type) {
	case *events.PeerCreated:
		b.Queue(`INSERT INTO peers (id, tenant_id, asset_id, static_ilp_address, name, max_packet_amount, liquidity_threshold,
				outgoing_token, outgoing_endpoint, routes, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, COALESCE($10::text[], '{}'), $11, $11, $12) ON CONFLICT (id) DO NOTHING`,
			id, env.TenantID, e.AssetID, e.StaticILPAddress, e.Name, e.MaxPacketAmount, e.LiquidityThreshold,
			e.OutgoingAuthToken, e.OutgoingEndpoint, e.Routes, at, seq)
		queuePeerTokens(b, id, seq, e.IncomingAuthTokens)
	case *events.PeerUpdated:
		var routes []string
		if e.Routes != nil {
			routes = *e.Routes
		}
		b.Queue(`UPDATE peers SET
				static_ilp_address  = COALESCE($2, static_ilp_address),
				name                = COALESCE($3, name),
				max_packet_amount   = COALESCE($4::numeric, max_packet_amount),
				liquidity_threshold = COALESCE($5::numeric, liquidity_threshold),
				outgoing_token      = COALESCE($6, outgoing_token),
				outgoing_endpoint   = COALESCE($7, outgoing_endpoint),
				routes              = COALESCE($8::text[], routes),
				updated_at = $9, version = $10
			WHERE id = $1`,
			id, e.StaticILPAddress, e.Name, e.MaxPacketAmount, e.LiquidityThreshold,
			e.OutgoingAuthToken, e.OutgoingEndpoint, routes, at, seq)
		if e.IncomingAuthTokens != nil {
			b.Queue(`DELETE FROM peer_incoming_tokens WHERE peer_id = $1`, id)
			queuePeerTokens(b, id, seq, *e.IncomingAuthTokens)
		}
	case *events.PeerDeleted:
		b.Queue(`UPDATE peers SET deleted_at = $2, updated_at = $2, version = $3 WHERE id = $1`, id, at, seq)
		b.Queue(`DELETE FROM peer_incoming_tokens WHERE peer_id = $1`, id)
	}
	return nil
}

// queuePeerTokens queues a peer's incoming tokens, given by its event at
// seq: only when that event changed the row, so that a creation stored
// twice changes nothing.
func queuePeerTokens(b *pgx.Batch, peerID string, seq int64, tokens []string) {
	if len(tokens) == 0 {
		return
	}
	b.Queue(`INSERT INTO peer_incoming_tokens (token, peer_id) SELECT unnest($2::text[]), $1::uuid
		WHERE EXISTS (SELECT FROM peers WHERE id = $1::uuid AND version = $3)`, peerID, tokens, seq)
}

// NewFold folds peers and their incoming tokens in memory for a replay.
func (p Peers) NewFold() Fold { return &peersFold{secrets: p.Secrets} }

type peerRow struct {
	id, tenantID, assetID               pgtype.UUID
	staticILPAddress                    string
	name                                *string
	maxPacketAmount, liquidityThreshold *uint64
	outgoingToken, outgoingEndpoint     string
	routes                              []string
	createdAt, updatedAt                time.Time
	deletedAt                           *time.Time
	version                             int64
	tokens                              []string
}

type peersFold struct {
	secrets Opener
	peers   held[peerRow]
	rows    int
}

func (f *peersFold) Rows() int { return f.rows }

func (f *peersFold) Add(env events.Envelope, ev events.Event) (bool, error) {
	ev, err := openSecrets(f.secrets, env, ev)
	if err != nil {
		return false, err
	}
	at, seq := env.Time, int64(env.Sequence)
	if e, ok := ev.(*events.PeerCreated); ok {
		p := &peerRow{staticILPAddress: e.StaticILPAddress, name: e.Name, maxPacketAmount: e.MaxPacketAmount,
			liquidityThreshold: e.LiquidityThreshold, outgoingToken: e.OutgoingAuthToken, outgoingEndpoint: e.OutgoingEndpoint,
			routes: e.Routes, createdAt: at, updatedAt: at, version: seq, tokens: e.IncomingAuthTokens}
		if p.routes == nil {
			p.routes = []string{}
		}
		if p.id, err = pgUUID(env.AggregateID); err != nil {
			return false, err
		}
		if p.tenantID, err = pgUUID(env.TenantID); err != nil {
			return false, err
		}
		if p.assetID, err = pgUUID(e.AssetID); err != nil {
			return false, err
		}
		if !f.peers.add(env.AggregateID, p) {
			return true, nil
		}
		f.rows += 1 + len(p.tokens)
		return true, nil
	}
	p, ok := f.peers.get(env.AggregateID)
	switch e := ev.(type) {
	case *events.PeerUpdated:
		if !ok {
			return false, nil
		}
		if e.StaticILPAddress != nil {
			p.staticILPAddress = *e.StaticILPAddress
		}
		p.name = coalesce(e.Name, p.name)
		p.maxPacketAmount = coalesce(e.MaxPacketAmount, p.maxPacketAmount)
		p.liquidityThreshold = coalesce(e.LiquidityThreshold, p.liquidityThreshold)
		if e.OutgoingAuthToken != nil {
			p.outgoingToken = *e.OutgoingAuthToken
		}
		if e.OutgoingEndpoint != nil {
			p.outgoingEndpoint = *e.OutgoingEndpoint
		}
		// A nil list is NULL to the statement, which keeps the routes.
		if e.Routes != nil && *e.Routes != nil {
			p.routes = *e.Routes
		}
		if e.IncomingAuthTokens != nil {
			f.setTokens(p, *e.IncomingAuthTokens)
		}
	case *events.PeerDeleted:
		if !ok {
			return false, nil
		}
		p.deletedAt = &at
		f.setTokens(p, nil)
	default:
		return true, nil
	}
	p.updatedAt, p.version = at, seq
	return true, nil
}

func (f *peersFold) setTokens(p *peerRow, tokens []string) {
	f.rows += len(tokens) - len(p.tokens)
	p.tokens = tokens
}

func (f *peersFold) Flush() []CopyRows {
	ps := f.peers.take()
	f.rows = 0
	return []CopyRows{
		copyRows("peers", []string{"id", "tenant_id", "asset_id", "static_ilp_address", "name", "max_packet_amount",
			"liquidity_threshold", "outgoing_token", "outgoing_endpoint", "routes", "created_at", "updated_at", "deleted_at", "version"},
			ps, func(p *peerRow, v []any) {
				v[0], v[1], v[2], v[3], v[4], v[5], v[6] = &p.id, &p.tenantID, &p.assetID, &p.staticILPAddress, p.name, p.maxPacketAmount, p.liquidityThreshold
				v[7], v[8], v[9], v[10], v[11], v[12], v[13] = &p.outgoingToken, &p.outgoingEndpoint, p.routes, &p.createdAt, &p.updatedAt, p.deletedAt, &p.version
			}),
		copyChildren("peer_incoming_tokens", []string{"token", "peer_id"}, ps,
			func(p *peerRow) []string { return p.tokens },
			func(p *peerRow, token *string, _ int, v []any) { v[0], v[1] = token, &p.id }),
	}
}
