package adminui

import (
	"io/fs"
	"net/http"
)

func (u *UI) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(files, "static") // the directory is embedded
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	open := func(fn func(*request)) http.HandlerFunc { return u.handle(false, fn) }
	in := func(fn func(*request)) http.HandlerFunc { return u.handle(true, fn) }
	op := func(fn func(*request)) http.HandlerFunc { return u.handle(true, u.operatorOnly(fn)) }
	self := func(fn func(*request)) http.HandlerFunc { return u.handle(true, u.operatorOrSelf(fn)) }

	m.Handle("GET /login", open(u.loginPage))
	m.Handle("POST /login", open(u.login))
	m.Handle("POST /logout", open(u.logout))
	m.Handle("GET /{$}", in(u.home))

	m.Handle("GET /assets", in(u.assets))
	m.Handle("GET /assets/new", in(u.newAsset))
	m.Handle("POST /assets/new", in(u.createAsset))
	m.Handle("GET /assets/{id}", in(u.asset))
	m.Handle("POST /assets/{id}/thresholds", in(u.updateAsset))
	m.Handle("POST /assets/{id}/fee", in(u.setFee))
	m.Handle("POST /assets/{id}/deposit", in(u.assetLiquidity(true)))
	m.Handle("POST /assets/{id}/withdraw", in(u.assetLiquidity(false)))
	m.Handle("POST /assets/{id}/delete", in(u.deleteAsset))

	m.Handle("GET /peers", in(u.peers))
	m.Handle("GET /peers/new", in(u.newPeer))
	m.Handle("POST /peers/new", in(u.createPeer))
	m.Handle("GET /peers/{id}", in(u.peer))
	m.Handle("POST /peers/{id}/update", in(u.updatePeer))
	m.Handle("POST /peers/{id}/delete", in(u.deletePeer))
	m.Handle("POST /peers/{id}/deposit", in(u.peerLiquidity(true)))
	m.Handle("POST /peers/{id}/withdraw", in(u.peerLiquidity(false)))

	m.Handle("GET /wallet-addresses", in(u.walletAddresses))
	m.Handle("GET /wallet-addresses/new", in(u.newWalletAddress))
	m.Handle("POST /wallet-addresses/new", in(u.createWalletAddress))
	m.Handle("GET /wallet-addresses/{id}", in(u.walletAddress))
	m.Handle("POST /wallet-addresses/{id}/update", in(u.updateWalletAddress))
	m.Handle("POST /wallet-addresses/{id}/withdraw", in(u.withdrawWalletAddress))
	m.Handle("POST /wallet-addresses/{id}/send", in(u.sendPayment))
	m.Handle("POST /wallet-addresses/{id}/request", in(u.requestPayment))

	m.Handle("GET /payments", in(u.payments))
	m.Handle("GET /payments/incoming/{id}", in(u.incomingPayment))
	m.Handle("POST /payments/incoming/{id}/withdraw", in(u.withdrawIncomingPayment))
	m.Handle("POST /payments/incoming/{id}/approve", in(u.approveIncomingPayment))
	m.Handle("POST /payments/incoming/{id}/cancel", in(u.cancelIncomingPayment))
	m.Handle("GET /payments/outgoing/{id}", in(u.outgoingPayment))
	m.Handle("POST /payments/outgoing/{id}/deposit", in(u.depositOutgoingPayment))
	m.Handle("POST /payments/outgoing/{id}/withdraw", in(u.withdrawOutgoingPayment))
	m.Handle("POST /payments/outgoing/{id}/cancel", in(u.cancelOutgoingPayment))

	m.Handle("GET /grants", in(u.grants))
	m.Handle("GET /grants/{id}", in(u.grantPage))
	m.Handle("POST /grants/{id}/revoke", in(u.revokeGrant))

	m.Handle("GET /webhook-events", in(u.webhookEvents))
	m.Handle("GET /history", in(u.findHistory))
	m.Handle("GET /history/{id}", in(u.history))

	m.Handle("GET /tenants", op(u.tenants))
	m.Handle("GET /tenants/new", op(u.newTenant))
	m.Handle("POST /tenants/new", op(u.createTenant))
	m.Handle("GET /tenants/{id}", self(u.tenant))
	m.Handle("POST /tenants/{id}/update", self(u.updateTenant))
	m.Handle("POST /tenants/{id}/settings", self(u.saveSettings))
	m.Handle("POST /tenants/{id}/delete", op(u.deleteTenant))

	m.Handle("/", open(func(rq *request) { rq.notFound("This page") }))
	u.mux = m
}
