package grant

import (
	"errors"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/apperr"
	"github.com/rafiki-go/rafiki/commands"
	"github.com/rafiki-go/rafiki/events"
)

const (
	tenantID = "00000000-0000-4000-8000-000000000002"
	walletA  = "https://wallet.example/alice"
)

var (
	t0     = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	policy = DefaultPolicy("https://auth.example")
	fresh  = Fresh{
		ContinueID: "00000000-0000-4000-8000-0000000000c1", ContinueToken: "CONTINUE-TOKEN",
		InteractionID: "00000000-0000-4000-8000-0000000000a1", InteractNonce: "INONCE", InteractRef: "IREF",
		TokenID: "00000000-0000-4000-8000-0000000000e1", TokenValue: "TOKEN-VALUE",
	}
	fresh2     = Fresh{TokenID: "00000000-0000-4000-8000-0000000000e2", TokenValue: "TOKEN-2"}
	withIDP    = Tenant{Exists: true, HasIDP: true}
	incoming   = events.GrantAccess{Type: TypeIncomingPayment, Actions: []string{ActionCreate, ActionReadAll}}
	outgoing   = events.GrantAccess{Type: TypeOutgoingPayment, Actions: []string{ActionCreate, ActionRead}, Identifier: walletA}
	finishable = &events.GrantInteract{Start: []string{"redirect"},
		Finish: &events.GrantFinish{Method: "redirect", URI: "https://client.example/done", Nonce: "CNONCE"}}
	pollable = &events.GrantInteract{Start: []string{"redirect"}}
)

func req(access ...events.GrantAccess) commands.RequestGrant {
	return commands.RequestGrant{TenantID: tenantID, Access: access, Client: events.GrantClient{WalletAddress: walletA}}
}

// fold builds a state from events stored at the given times, as the store
// would; each event is checked against the legal transitions first.
func fold(t *testing.T, steps ...step) State {
	t.Helper()
	var s State
	for _, st := range steps {
		if err := checkTransitions(s, st.evs); err != nil {
			t.Fatalf("fixture: %v", err)
		}
		for _, ev := range st.evs {
			s = Evolve(s, events.Envelope{AggregateID: "g1", TenantID: tenantID, Time: st.at}, ev)
		}
	}
	return s
}

type step struct {
	at  time.Time
	evs []events.Event
}

func decided(t *testing.T, s State, at time.Time) func([]events.Event, error) step {
	return func(evs []events.Event, err error) step {
		t.Helper()
		if err != nil {
			t.Fatalf("fixture decision: %v", err)
		}
		return step{at, evs}
	}
}

// pending is an interactive grant just requested at t0.
func pending(t *testing.T, interact *events.GrantInteract) []step {
	c := req(outgoing)
	c.Interact = interact
	return []step{decided(t, State{}, t0)(decideRequest(State{}, c, policy, withIDP, fresh))}
}

// types are the decided events' types; a grant request is followed by the
// types of what it carries (its interaction's start, its token).
func types(evs []events.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.EventType())
		if r, ok := ev.(*events.GrantRequested); ok {
			if r.Interaction != nil {
				out = append(out, r.Interaction.EventType())
			}
			if r.AccessToken != nil {
				out = append(out, r.AccessToken.EventType())
			}
		}
	}
	return out
}

// expect checks a decision: the event types it wants, or the GNAP code and
// apperr kind of the refusal. Every decided sequence must be legal.
func expect(t *testing.T, s State, evs []events.Event, err error, want []string, code Code, kind apperr.Kind) {
	t.Helper()
	if code != "" || kind != "" {
		var ge *Error
		if errors.As(err, &ge) && code != "" && ge.Code != code {
			t.Fatalf("got %v, want code %s", err, code)
		}
		if (code != "" && ge == nil) || apperr.KindOf(err) != kind {
			t.Fatalf("got %v (%s), want %s %s", err, apperr.KindOf(err), code, kind)
		}
		return
	}
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if got := types(evs); len(got) != len(want) || (len(want) > 0 && !equal(got, want)) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if err := checkTransitions(s, evs); err != nil {
		t.Fatalf("illegal decision: %v", err)
	}
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestDecideRequest(t *testing.T) {
	quote := events.GrantAccess{Type: TypeQuote, Actions: []string{ActionCreate, ActionRead}}
	listAll := events.GrantAccess{Type: TypeIncomingPayment, Actions: []string{ActionListAll}}
	listAllWithID := listAll
	listAllWithID.Identifier = walletA
	both := outgoing
	both.Limits = &events.GrantLimits{DebitAmount: &events.GrantAmount{Value: "1", AssetCode: "USD", AssetScale: 2},
		ReceiveAmount: &events.GrantAmount{Value: "1", AssetCode: "USD", AssetScale: 2}}
	jwkClient := func(c commands.RequestGrant) commands.RequestGrant {
		c.Client = events.GrantClient{JWK: []byte(`{}`)}
		return c
	}
	interact := func(c commands.RequestGrant) commands.RequestGrant { c.Interact = finishable; return c }
	subject := func(c commands.RequestGrant) commands.RequestGrant {
		c.Subject = []events.GrantSubjectID{{ID: walletA, Format: "uri"}}
		return c
	}
	noInteraction := []string{"grant.requested", "grant.access_token_issued"}
	interaction := []string{"grant.requested", "grant.interaction_started"}
	p := func(f func(*Policy)) Policy { q := policy; f(&q); return q }
	for _, tc := range []struct {
		name   string
		cmd    commands.RequestGrant
		policy Policy
		tenant Tenant
		want   []string
		code   Code
		kind   apperr.Kind
	}{
		{"incoming payment", req(incoming), policy, withIDP, noInteraction, "", ""},
		{"quote", req(quote), policy, withIDP, noInteraction, "", ""},
		{"incoming and quote by jwk", jwkClient(req(incoming, quote)), policy, withIDP, noInteraction, "", ""},
		{"incoming with INCOMING_PAYMENT_INTERACTION", interact(req(listAllWithID)), p(func(q *Policy) { q.IncomingPaymentInteraction = true }), withIDP, interaction, "", ""},
		{"quote with QUOTE_INTERACTION needs an identifier", req(quote), p(func(q *Policy) { q.QuoteInteraction = true }), withIDP, nil, InvalidRequest, apperr.InvalidInput},
		{"list-all needs interaction by default", req(listAll), policy, withIDP, nil, InvalidRequest, apperr.InvalidInput},
		{"list-all without LIST_ALL_ACCESS_INTERACTION", req(listAll), p(func(q *Policy) { q.ListAllInteraction = false }), withIDP, noInteraction, "", ""},
		{"list-all with identifier", interact(req(listAllWithID)), policy, withIDP, interaction, "", ""},
		{"outgoing payment", interact(req(outgoing)), policy, withIDP, interaction, "", ""},
		{"outgoing without identifier", interact(req(events.GrantAccess{Type: TypeOutgoingPayment, Actions: []string{ActionCreate}})), policy, withIDP, nil, InvalidRequest, apperr.InvalidInput},
		{"outgoing with incoming is interactive", interact(req(incoming, outgoing)), policy, withIDP, interaction, "", ""},
		{"outgoing without interact", req(outgoing), policy, withIDP, nil, InvalidRequest, apperr.InvalidInput},
		{"outgoing on a tenant without idp", interact(req(outgoing)), policy, Tenant{Exists: true}, nil, InvalidRequest, apperr.InvalidInput},
		{"outgoing by jwk", jwkClient(interact(req(outgoing))), policy, withIDP, nil, InvalidClient, apperr.InvalidInput},
		{"subject is interactive", interact(subject(req())), policy, withIDP, interaction, "", ""},
		{"subject with incoming is interactive", interact(subject(req(incoming))), policy, withIDP, interaction, "", ""},
		{"neither access nor subject", req(), policy, withIDP, nil, InvalidRequest, apperr.InvalidInput},
		{"both amounts", interact(req(both)), policy, withIDP, nil, InvalidRequest, apperr.InvalidInput},
		{"unknown tenant", req(incoming), policy, Tenant{}, nil, "", apperr.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := decideRequest(State{}, tc.cmd, tc.policy, tc.tenant, fresh)
			expect(t, State{}, evs, err, tc.want, tc.code, tc.kind)
		})
	}
	t.Run("twice", func(t *testing.T) {
		s := fold(t, pending(t, finishable)...)
		_, err := decideRequest(s, req(incoming), policy, withIDP, fresh)
		expect(t, s, nil, err, nil, "", apperr.Duplicate)
	})
	t.Run("no token value in events", func(t *testing.T) {
		evs, _ := decideRequest(State{}, req(incoming), policy, withIDP, fresh)
		r := evs[0].(*events.GrantRequested)
		tok := r.AccessToken
		if len(evs) != 1 || tok == nil || r.ContinueTokenHash != TokenHash(fresh.ContinueToken) || tok.ValueHash != TokenHash(fresh.TokenValue) ||
			tok.TokenID != fresh.TokenID || tok.ExpiresInSeconds != 600 || r.State != events.GrantStateApproved {
			t.Fatalf("%+v %+v", r, tok)
		}
	})
}

func TestDecideContinue(t *testing.T) {
	wait := policy.Wait
	cont := func(ref string) commands.ContinueGrant {
		return commands.ContinueGrant{ContinueID: fresh.ContinueID, ContinueToken: fresh.ContinueToken, InteractRef: ref}
	}
	wrongToken := cont("")
	wrongToken.ContinueToken = "OTHER"
	wrongID := cont("IREF")
	wrongID.ContinueID = "00000000-0000-4000-8000-0000000000c2"
	later := t0.Add(wait)
	polledPending := fold(t, pending(t, pollable)...)
	approved := func(interact *events.GrantInteract) State {
		steps := pending(t, interact)
		steps = append(steps, step{t0.Add(time.Second), []events.Event{&events.InteractionApproved{}}},
			step{t0.Add(time.Second), []events.Event{&events.GrantApproved{}}})
		return fold(t, steps...)
	}
	rejected := fold(t, append(pending(t, finishable), step{t0, []events.Event{&events.InteractionRejected{}}},
		step{t0, []events.Event{&events.GrantDenied{}}})...)
	revoked := fold(t, append(pending(t, finishable), step{t0, []events.Event{&events.GrantRevoked{}}})...)
	nonInteractive := fold(t, decided(t, State{}, t0)(decideRequest(State{}, req(incoming), policy, withIDP, fresh)))
	issued := "grant.access_token_issued"
	for _, tc := range []struct {
		name string
		s    State
		cmd  commands.ContinueGrant
		now  time.Time
		want []string
		code Code
		kind apperr.Kind
	}{
		{"poll pending", polledPending, cont(""), later, []string{"grant.polled"}, "", ""},
		{"poll too fast", polledPending, cont(""), later.Add(-time.Millisecond), nil, TooFast, apperr.InvalidInput},
		{"poll approved issues", approved(pollable), cont(""), later, []string{issued, "grant.finalized"}, "", ""},
		{"poll a finishable grant", approved(finishable), cont(""), later, nil, RequestDenied, apperr.Unauthenticated},
		{"poll rejected", fold(t, append(pending(t, pollable), step{t0, []events.Event{&events.InteractionRejected{}}}, step{t0, []events.Event{&events.GrantDenied{}}})...), cont(""), later, nil, RequestDenied, apperr.Unauthenticated},
		{"poll with a wrong token", polledPending, wrongToken, later, nil, InvalidRequest, apperr.NotFound},
		{"poll an unknown grant", State{}, cont(""), later, nil, InvalidRequest, apperr.NotFound},
		{"poll non-interactive issues again", nonInteractive, cont(""), later, []string{issued, "grant.finalized"}, "", ""},
		{"interact_ref approved", approved(finishable), cont("IREF"), later, []string{issued, "grant.finalized"}, "", ""},
		{"interact_ref too fast", approved(finishable), cont("IREF"), later.Add(-time.Nanosecond), nil, TooFast, apperr.InvalidInput},
		{"interact_ref wrong", approved(finishable), cont("OTHER"), later, nil, InvalidContinuation, apperr.NotFound},
		{"interact_ref with a wrong continue id", approved(finishable), wrongID, later, nil, InvalidContinuation, apperr.NotFound},
		{"interact_ref pending", fold(t, pending(t, finishable)...), cont("IREF"), later, nil, RequestDenied, apperr.Unauthenticated},
		{"interact_ref rejected", rejected, cont("IREF"), later, nil, InvalidContinuation, apperr.NotFound},
		{"interact_ref revoked", revoked, cont("IREF"), later, nil, InvalidContinuation, apperr.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := decideContinue(tc.s, tc.cmd, policy, tc.now, fresh2)
			expect(t, tc.s, evs, err, tc.want, tc.code, tc.kind)
		})
	}
	t.Run("a poll restarts the wait", func(t *testing.T) {
		s := fold(t, append(pending(t, pollable), step{later, []events.Event{&events.GrantPolled{}}})...)
		_, err := decideContinue(s, cont(""), policy, later.Add(wait-time.Millisecond), fresh2)
		expect(t, s, nil, err, nil, TooFast, apperr.InvalidInput)
		evs, err := decideContinue(s, cont(""), policy, later.Add(wait), fresh2)
		expect(t, s, evs, err, []string{"grant.polled"}, "", "")
	})
	t.Run("finalized cannot continue again", func(t *testing.T) {
		s := approved(pollable)
		evs, err := decideContinue(s, cont(""), policy, later, fresh2)
		expect(t, s, evs, err, []string{issued, "grant.finalized"}, "", "")
		for _, ev := range evs {
			s = Evolve(s, events.Envelope{Time: later}, ev)
		}
		_, err = decideContinue(s, cont(""), policy, later.Add(wait), fresh)
		expect(t, s, nil, err, nil, RequestDenied, apperr.Unauthenticated)
	})
}

func TestDecideInteraction(t *testing.T) {
	choice := commands.InteractionChoice{InteractionID: fresh.InteractionID, Nonce: fresh.InteractNonce}
	finish := commands.FinishInteraction{InteractionID: fresh.InteractionID, Nonce: fresh.InteractNonce}
	soon := t0.Add(time.Minute)
	expired := t0.Add(policy.InteractionExpiry + time.Nanosecond)
	open := fold(t, pending(t, finishable)...)
	accepted := fold(t, append(pending(t, finishable), step{soon, []events.Event{&events.InteractionApproved{}}})...)
	denied := fold(t, append(pending(t, finishable), step{soon, []events.Event{&events.InteractionRejected{}}})...)
	approvedGrant := fold(t, append(pending(t, finishable), step{soon, []events.Event{&events.InteractionApproved{}, &events.GrantApproved{}}})...)
	rejectedGrant := fold(t, append(pending(t, finishable), step{soon, []events.Event{&events.InteractionRejected{}, &events.GrantDenied{}}})...)
	revoked := fold(t, append(pending(t, finishable), step{soon, []events.Event{&events.GrantRevoked{}}})...)
	wrongNonce := choice
	wrongNonce.Nonce = "X"
	for _, tc := range []struct {
		name   string
		s      State
		accept bool
		cmd    commands.InteractionChoice
		now    time.Time
		want   []string
		code   Code
		kind   apperr.Kind
	}{
		{"accept", open, true, choice, soon, []string{"grant.interaction_approved"}, "", ""},
		{"reject", open, false, choice, soon, []string{"grant.interaction_rejected"}, "", ""},
		{"wrong nonce", open, true, wrongNonce, soon, nil, UnknownInteraction, apperr.NotFound},
		{"no interaction", fold(t, decided(t, State{}, t0)(decideRequest(State{}, req(incoming), policy, withIDP, fresh))), true, choice, soon, nil, UnknownInteraction, apperr.NotFound},
		{"expired", open, true, choice, expired, nil, InvalidInteraction, apperr.InvalidInput},
		{"answered", accepted, false, choice, soon, nil, InvalidInteraction, apperr.InvalidInput},
		{"revoked grant", revoked, true, choice, soon, nil, UserDenied, apperr.Unauthenticated},
		{"rejected grant", rejectedGrant, true, choice, soon, nil, UserDenied, apperr.Unauthenticated},
	} {
		t.Run("choice "+tc.name, func(t *testing.T) {
			evs, err := decideChoice(tc.s, tc.cmd, tc.accept, tc.now)
			expect(t, tc.s, evs, err, tc.want, tc.code, tc.kind)
		})
	}
	for _, tc := range []struct {
		name string
		s    State
		now  time.Time
		want []string
		code Code
		kind apperr.Kind
	}{
		{"approved", accepted, soon, []string{"grant.approved"}, "", ""},
		{"denied", denied, soon, []string{"grant.denied"}, "", ""},
		{"again after approval", approvedGrant, soon, []string{}, "", ""},
		{"again after denial", rejectedGrant, soon, []string{}, "", ""},
		{"still pending", open, soon, nil, InvalidInteraction, apperr.Unauthenticated},
		{"expired", accepted, expired, nil, InvalidInteraction, apperr.Unauthenticated},
		{"revoked", revoked, soon, nil, UnknownInteraction, apperr.NotFound},
	} {
		t.Run("finish "+tc.name, func(t *testing.T) {
			evs, err := decideFinish(tc.s, finish, tc.now)
			expect(t, tc.s, evs, err, tc.want, tc.code, tc.kind)
		})
	}
	t.Run("finished answer", func(t *testing.T) {
		f := finished(approvedGrant, policy)
		want := FinishHash("CNONCE", fresh.InteractNonce, fresh.InteractRef, "https://auth.example/"+tenantID)
		if !f.Approved || f.Hash != want || f.InteractRef != fresh.InteractRef || f.FinishURI != "https://client.example/done" {
			t.Fatalf("%+v", f)
		}
		if f := finished(rejectedGrant, policy); f.Approved || f.Hash != "" || f.InteractRef != "" {
			t.Fatalf("rejected: %+v", f)
		}
	})
	for _, tc := range []struct {
		name string
		s    State
		now  time.Time
		want []string
		kind apperr.Kind
	}{
		{"due", open, expired, []string{"grant.interaction_expired"}, ""},
		{"not due", open, soon, nil, apperr.Conflict},
		{"answered", accepted, expired, []string{}, ""},
		{"recorded", fold(t, append(pending(t, finishable), step{expired, []events.Event{&events.InteractionExpired{}}})...), expired, []string{}, ""},
	} {
		t.Run("expire "+tc.name, func(t *testing.T) {
			evs, err := decideExpire(tc.s, tc.now)
			expect(t, tc.s, evs, err, tc.want, "", tc.kind)
		})
	}
}

func TestDecideRevokeAndTokens(t *testing.T) {
	live := fold(t, decided(t, State{}, t0)(decideRequest(State{}, req(incoming), policy, withIDP, fresh)))
	revoked := fold(t, decided(t, State{}, t0)(decideRequest(State{}, req(incoming), policy, withIDP, fresh)),
		step{t0, []events.Event{&events.GrantRevoked{}}})
	byClient := commands.RevokeGrant{ContinueID: fresh.ContinueID, ContinueToken: fresh.ContinueToken}
	wrong := byClient
	wrong.ContinueToken = "OTHER"
	byTenant := commands.RevokeGrant{Meta: commands.Meta{Actor: commands.Actor{TenantID: tenantID}}}
	byStranger := commands.RevokeGrant{Meta: commands.Meta{Actor: commands.Actor{TenantID: "00000000-0000-4000-8000-000000000009"}}}
	byOperator := commands.RevokeGrant{Meta: commands.Meta{Actor: commands.Actor{Operator: true}}}
	for _, tc := range []struct {
		name string
		s    State
		cmd  commands.RevokeGrant
		want []string
		kind apperr.Kind
	}{
		{"by client", live, byClient, []string{"grant.revoked"}, ""},
		{"by tenant", live, byTenant, []string{"grant.revoked"}, ""},
		{"by operator", live, byOperator, []string{"grant.revoked"}, ""},
		{"wrong token", live, wrong, nil, apperr.NotFound},
		{"by another tenant", live, byStranger, nil, apperr.NotFound},
		{"unknown", State{}, byOperator, nil, apperr.NotFound},
		{"again", revoked, byClient, []string{}, ""},
	} {
		t.Run("revoke "+tc.name, func(t *testing.T) {
			evs, err := decideRevoke(tc.s, tc.cmd)
			expect(t, tc.s, evs, err, tc.want, "", tc.kind)
		})
	}
	if len(revoked.Tokens) != 0 || !revoked.Revoked() {
		t.Fatalf("revoking keeps tokens: %+v", revoked.Tokens)
	}

	rotate := commands.RotateToken{TokenID: fresh.TokenID, TokenValue: fresh.TokenValue}
	badValue := rotate
	badValue.TokenValue = "OTHER"
	evs, err := decideRotate(live, rotate, policy, fresh2)
	expect(t, live, evs, err, []string{"grant.access_token_rotated"}, "", "")
	rotated := Evolve(live, events.Envelope{Time: t0.Add(time.Hour)}, evs[0])
	if _, old := rotated.Tokens[fresh.TokenID]; old || rotated.Tokens[fresh2.TokenID].ValueHash != TokenHash(fresh2.TokenValue) {
		t.Fatalf("rotation left %+v", rotated.Tokens)
	}
	for name, tc := range map[string]struct {
		s   State
		cmd commands.RotateToken
	}{
		"a rotated token":    {rotated, rotate},
		"a wrong value":      {live, badValue},
		"on a revoked grant": {revoked, rotate},
	} {
		t.Run("rotate "+name, func(t *testing.T) {
			_, err := decideRotate(tc.s, tc.cmd, policy, fresh2)
			expect(t, tc.s, nil, err, nil, InvalidRotation, apperr.NotFound)
		})
	}
	// An expired token may still be rotated: that is what rotation is for.
	if !live.Tokens[fresh.TokenID].ExpiredAt(t0.Add(policy.AccessTokenExpiry + time.Second)) {
		t.Fatal("token does not expire")
	}

	revokeToken := commands.RevokeToken{TokenID: fresh.TokenID, TokenValue: fresh.TokenValue}
	evs, err = decideRevokeToken(live, revokeToken)
	expect(t, live, evs, err, []string{"grant.access_token_revoked"}, "", "")
	gone := Evolve(live, events.Envelope{}, evs[0])
	_, err = decideRevokeToken(gone, revokeToken)
	expect(t, gone, nil, err, nil, InvalidRequest, apperr.NotFound)
	_, err = decideRevokeToken(live, commands.RevokeToken{TokenID: fresh.TokenID, TokenValue: "OTHER"})
	expect(t, live, nil, err, nil, InvalidRequest, apperr.NotFound)
}

func TestTransitionsRefuseIllegalEvents(t *testing.T) {
	open := fold(t, pending(t, finishable)...)
	live := fold(t, decided(t, State{}, t0)(decideRequest(State{}, req(incoming), policy, withIDP, fresh)))
	for name, tc := range map[string]struct {
		s  State
		ev events.Event
	}{
		"requested twice":           {open, &events.GrantRequested{State: events.GrantStatePending}},
		"requested finalized":       {State{}, &events.GrantRequested{State: events.GrantStateFinalized}},
		"approved twice":            {live, &events.GrantApproved{}},
		"finalized while pending":   {open, &events.GrantFinalized{}},
		"denied once approved":      {live, &events.GrantDenied{}},
		"token on a pending grant":  {open, &events.AccessTokenIssued{TokenID: "t2"}},
		"token id reused":           {live, &events.AccessTokenIssued{TokenID: fresh.TokenID}},
		"rotating an unknown token": {live, &events.AccessTokenRotated{PreviousTokenID: "x", TokenID: "t2"}},
		"revoking an unknown token": {live, &events.AccessTokenRevoked{TokenID: "x"}},
		"interaction without one":   {live, &events.InteractionApproved{}},
		"second interaction":        {open, &events.InteractionStarted{InteractionID: "i2"}},
		"event on no grant":         {State{}, &events.GrantRevoked{}},
		"polling an approved grant": {live, &events.GrantPolled{}},
		"revoking a revoked grant":  {fold(t, append(pending(t, finishable), step{t0, []events.Event{&events.GrantRevoked{}}})...), &events.GrantRevoked{}},
		"another aggregate's event": {live, &events.AssetDeleted{}},
	} {
		if err := checkTransitions(tc.s, []events.Event{tc.ev}); err == nil {
			t.Errorf("%s: allowed", name)
		}
	}
}
