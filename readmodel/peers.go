package readmodel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Peer is a row of the peers read model.
type Peer struct {
	ID                 string
	TenantID           string
	AssetID            string
	StaticILPAddress   string
	Name               *string
	MaxPacketAmount    *uint64
	LiquidityThreshold *uint64
	OutgoingAuthToken  string
	OutgoingEndpoint   string
	// Routes are the peer's routes, its static address first.
	Routes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

const peerColumns = `id::text, tenant_id::text, asset_id::text, static_ilp_address, name, max_packet_amount,
	liquidity_threshold, outgoing_token, outgoing_endpoint, routes, created_at, updated_at`

func scanPeer(row pgx.Row) (Peer, string, error) {
	var p Peer
	err := row.Scan(&p.ID, &p.TenantID, &p.AssetID, &p.StaticILPAddress, &p.Name, &p.MaxPacketAmount,
		&p.LiquidityThreshold, &p.OutgoingAuthToken, &p.OutgoingEndpoint, &p.Routes, &p.CreatedAt, &p.UpdatedAt)
	return p, p.ID, err
}

func (r *Reader) onePeer(ctx context.Context, sql string, args ...any) (*Peer, error) {
	p, _, err := scanPeer(r.pool.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	return &p, nil
}

// Peer finds a live peer by id; tenantScope, when set, must own it.
func (r *Reader) Peer(ctx context.Context, id string, tenantScope *string) (*Peer, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil
	}
	return r.onePeer(ctx, `SELECT `+peerColumns+` FROM rm_peers.peers
		WHERE id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR tenant_id = $2::uuid)`, id, tenantScope)
}

// PeerByAddressAndAsset is the peer a packet to address goes to in an asset,
// as Rafiki's router picks it: the peer with the longest route (its static
// address or one of its routes) that is the address or a prefix of it ending
// at a segment. Among equally long matches the oldest peer wins, where
// Rafiki picks at random. tenantScope, when set, restricts to one tenant.
func (r *Reader) PeerByAddressAndAsset(ctx context.Context, address, assetID string, tenantScope *string) (*Peer, error) {
	if _, err := uuid.Parse(assetID); err != nil || address == "" {
		return nil, nil
	}
	return r.onePeer(ctx, `SELECT `+peerColumns+` FROM rm_peers.peers p,
		LATERAL (SELECT max(length(route)) AS matched FROM unnest(p.routes || p.static_ilp_address) AS route
			WHERE route <> '' AND ($1 = route OR starts_with($1, route || '.'))) m
		WHERE m.matched IS NOT NULL AND p.asset_id = $2 AND p.deleted_at IS NULL
			AND ($3::uuid IS NULL OR p.tenant_id = $3::uuid)
		ORDER BY m.matched DESC, p.created_at, p.id LIMIT 1`, address, assetID, tenantScope)
}

// Peers lists live peers, of one tenant when tenantScope is set.
func (r *Reader) Peers(ctx context.Context, tenantScope *string, p Page) ([]Peer, PageInfo, error) {
	q := listQuery{table: "rm_peers.peers", columns: peerColumns,
		where: "deleted_at IS NULL AND ($1::uuid IS NULL OR tenant_id = $1::uuid)", owner: "$1::uuid IS NULL OR tenant_id = $1::uuid",
		args: []any{tenantScope}}
	return pageOf(ctx, r.pool, q, p, scanPeer)
}

// PeerByIncomingToken finds the live peer that authenticates with token,
// for the connector's incoming ILP-over-HTTP requests.
func (r *Reader) PeerByIncomingToken(ctx context.Context, token string) (*Peer, error) {
	return r.onePeer(ctx, `SELECT `+peerColumns+` FROM rm_peers.peers
		WHERE id = (SELECT peer_id FROM rm_peers.peer_incoming_tokens WHERE token = $1) AND deleted_at IS NULL`, token)
}
