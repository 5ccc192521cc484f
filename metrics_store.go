// timedStore wraps every method of store.Store but Close; keep it in step
// with the interface (a new method left out is not timed, not wrong).

package clientreg

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clientreg/clientreg/store"
)

// timedStore is the handler's Store with every call timed into
// clientreg_store_duration_seconds by method. Its observers are made once.
type timedStore struct {
	store.Store
	completeIdempotencyKey     prometheus.Observer
	createAccessToken          prometheus.Observer
	createClient               prometheus.Observer
	createCode                 prometheus.Observer
	createInitialToken         prometheus.Observer
	createPendingAuthorization prometheus.Observer
	createSession              prometheus.Observer
	createSigningKey           prometheus.Observer
	deleteAccessToken          prometheus.Observer
	deleteClient               prometheus.Observer
	deleteConsent              prometheus.Observer
	deleteExpired              prometheus.Observer
	deleteGrant                prometheus.Observer
	deleteSession              prometheus.Observer
	deleteSigningKey           prometheus.Observer
	getAccessToken             prometheus.Observer
	getClient                  prometheus.Observer
	getClientByTokenHash       prometheus.Observer
	getCode                    prometheus.Observer
	getConsent                 prometheus.Observer
	getGrant                   prometheus.Observer
	getGrantByRefreshHash      prometheus.Observer
	getIdempotencyKey          prometheus.Observer
	getInitialToken            prometheus.Observer
	getPendingAuthorization    prometheus.Observer
	getSession                 prometheus.Observer
	listSigningKeys            prometheus.Observer
	ping                       prometheus.Observer
	purgeClients               prometheus.Observer
	putConsent                 prometheus.Observer
	redeemCode                 prometheus.Observer
	releaseIdempotencyKey      prometheus.Observer
	reserveIdempotencyKey      prometheus.Observer
	takePendingAuthorization   prometheus.Observer
	touchClient                prometheus.Observer
	touchSession               prometheus.Observer
	updateClient               prometheus.Observer
	updateGrant                prometheus.Observer
	useAssertionID             prometheus.Observer
	useInitialToken            prometheus.Observer
}

func newTimedStore(s store.Store, h *prometheus.HistogramVec) *timedStore {
	return &timedStore{Store: s,
		completeIdempotencyKey:     h.WithLabelValues("CompleteIdempotencyKey"),
		createAccessToken:          h.WithLabelValues("CreateAccessToken"),
		createClient:               h.WithLabelValues("CreateClient"),
		createCode:                 h.WithLabelValues("CreateCode"),
		createInitialToken:         h.WithLabelValues("CreateInitialToken"),
		createPendingAuthorization: h.WithLabelValues("CreatePendingAuthorization"),
		createSession:              h.WithLabelValues("CreateSession"),
		createSigningKey:           h.WithLabelValues("CreateSigningKey"),
		deleteAccessToken:          h.WithLabelValues("DeleteAccessToken"),
		deleteClient:               h.WithLabelValues("DeleteClient"),
		deleteConsent:              h.WithLabelValues("DeleteConsent"),
		deleteExpired:              h.WithLabelValues("DeleteExpired"),
		deleteGrant:                h.WithLabelValues("DeleteGrant"),
		deleteSession:              h.WithLabelValues("DeleteSession"),
		deleteSigningKey:           h.WithLabelValues("DeleteSigningKey"),
		getAccessToken:             h.WithLabelValues("GetAccessToken"),
		getClient:                  h.WithLabelValues("GetClient"),
		getClientByTokenHash:       h.WithLabelValues("GetClientByTokenHash"),
		getCode:                    h.WithLabelValues("GetCode"),
		getConsent:                 h.WithLabelValues("GetConsent"),
		getGrant:                   h.WithLabelValues("GetGrant"),
		getGrantByRefreshHash:      h.WithLabelValues("GetGrantByRefreshHash"),
		getIdempotencyKey:          h.WithLabelValues("GetIdempotencyKey"),
		getInitialToken:            h.WithLabelValues("GetInitialToken"),
		getPendingAuthorization:    h.WithLabelValues("GetPendingAuthorization"),
		getSession:                 h.WithLabelValues("GetSession"),
		listSigningKeys:            h.WithLabelValues("ListSigningKeys"),
		ping:                       h.WithLabelValues("Ping"),
		purgeClients:               h.WithLabelValues("PurgeClients"),
		putConsent:                 h.WithLabelValues("PutConsent"),
		redeemCode:                 h.WithLabelValues("RedeemCode"),
		releaseIdempotencyKey:      h.WithLabelValues("ReleaseIdempotencyKey"),
		reserveIdempotencyKey:      h.WithLabelValues("ReserveIdempotencyKey"),
		takePendingAuthorization:   h.WithLabelValues("TakePendingAuthorization"),
		touchClient:                h.WithLabelValues("TouchClient"),
		touchSession:               h.WithLabelValues("TouchSession"),
		updateClient:               h.WithLabelValues("UpdateClient"),
		updateGrant:                h.WithLabelValues("UpdateGrant"),
		useAssertionID:             h.WithLabelValues("UseAssertionID"),
		useInitialToken:            h.WithLabelValues("UseInitialToken"),
	}
}

func (ts *timedStore) CompleteIdempotencyKey(ctx context.Context, keyHash []byte, createdAt time.Time, response []byte, expiresAt time.Time) error {
	defer observeSince(ts.completeIdempotencyKey, time.Now())
	return ts.Store.CompleteIdempotencyKey(ctx, keyHash, createdAt, response, expiresAt)
}

func (ts *timedStore) CreateAccessToken(ctx context.Context, t *store.AccessToken) error {
	defer observeSince(ts.createAccessToken, time.Now())
	return ts.Store.CreateAccessToken(ctx, t)
}

func (ts *timedStore) CreateClient(ctx context.Context, c *store.Client, opts store.CreateOptions) error {
	defer observeSince(ts.createClient, time.Now())
	return ts.Store.CreateClient(ctx, c, opts)
}

func (ts *timedStore) CreateCode(ctx context.Context, c *store.AuthorizationCode) error {
	defer observeSince(ts.createCode, time.Now())
	return ts.Store.CreateCode(ctx, c)
}

func (ts *timedStore) CreateInitialToken(ctx context.Context, t *store.InitialToken) error {
	defer observeSince(ts.createInitialToken, time.Now())
	return ts.Store.CreateInitialToken(ctx, t)
}

func (ts *timedStore) CreatePendingAuthorization(ctx context.Context, p *store.PendingAuthorization) error {
	defer observeSince(ts.createPendingAuthorization, time.Now())
	return ts.Store.CreatePendingAuthorization(ctx, p)
}

func (ts *timedStore) CreateSession(ctx context.Context, s *store.Session) error {
	defer observeSince(ts.createSession, time.Now())
	return ts.Store.CreateSession(ctx, s)
}

func (ts *timedStore) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	defer observeSince(ts.createSigningKey, time.Now())
	return ts.Store.CreateSigningKey(ctx, k)
}

func (ts *timedStore) DeleteAccessToken(ctx context.Context, hash []byte) error {
	defer observeSince(ts.deleteAccessToken, time.Now())
	return ts.Store.DeleteAccessToken(ctx, hash)
}

func (ts *timedStore) DeleteClient(ctx context.Context, id string) error {
	defer observeSince(ts.deleteClient, time.Now())
	return ts.Store.DeleteClient(ctx, id)
}

func (ts *timedStore) DeleteConsent(ctx context.Context, subject, clientID string) error {
	defer observeSince(ts.deleteConsent, time.Now())
	return ts.Store.DeleteConsent(ctx, subject, clientID)
}

func (ts *timedStore) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	defer observeSince(ts.deleteExpired, time.Now())
	return ts.Store.DeleteExpired(ctx, now)
}

func (ts *timedStore) DeleteGrant(ctx context.Context, id string) error {
	defer observeSince(ts.deleteGrant, time.Now())
	return ts.Store.DeleteGrant(ctx, id)
}

func (ts *timedStore) DeleteSession(ctx context.Context, hash []byte) error {
	defer observeSince(ts.deleteSession, time.Now())
	return ts.Store.DeleteSession(ctx, hash)
}

func (ts *timedStore) DeleteSigningKey(ctx context.Context, id string) error {
	defer observeSince(ts.deleteSigningKey, time.Now())
	return ts.Store.DeleteSigningKey(ctx, id)
}

func (ts *timedStore) GetAccessToken(ctx context.Context, hash []byte) (*store.AccessToken, error) {
	defer observeSince(ts.getAccessToken, time.Now())
	return ts.Store.GetAccessToken(ctx, hash)
}

func (ts *timedStore) GetClient(ctx context.Context, id string) (*store.Client, error) {
	defer observeSince(ts.getClient, time.Now())
	return ts.Store.GetClient(ctx, id)
}

func (ts *timedStore) GetClientByTokenHash(ctx context.Context, hash []byte) (*store.Client, error) {
	defer observeSince(ts.getClientByTokenHash, time.Now())
	return ts.Store.GetClientByTokenHash(ctx, hash)
}

func (ts *timedStore) GetCode(ctx context.Context, hash []byte) (*store.AuthorizationCode, error) {
	defer observeSince(ts.getCode, time.Now())
	return ts.Store.GetCode(ctx, hash)
}

func (ts *timedStore) GetConsent(ctx context.Context, subject, clientID string) (*store.Consent, error) {
	defer observeSince(ts.getConsent, time.Now())
	return ts.Store.GetConsent(ctx, subject, clientID)
}

func (ts *timedStore) GetGrant(ctx context.Context, id string) (*store.Grant, error) {
	defer observeSince(ts.getGrant, time.Now())
	return ts.Store.GetGrant(ctx, id)
}

func (ts *timedStore) GetGrantByRefreshHash(ctx context.Context, hash []byte) (*store.Grant, error) {
	defer observeSince(ts.getGrantByRefreshHash, time.Now())
	return ts.Store.GetGrantByRefreshHash(ctx, hash)
}

func (ts *timedStore) GetIdempotencyKey(ctx context.Context, keyHash []byte) (*store.IdempotencyRecord, error) {
	defer observeSince(ts.getIdempotencyKey, time.Now())
	return ts.Store.GetIdempotencyKey(ctx, keyHash)
}

func (ts *timedStore) GetInitialToken(ctx context.Context, hash []byte) (*store.InitialToken, error) {
	defer observeSince(ts.getInitialToken, time.Now())
	return ts.Store.GetInitialToken(ctx, hash)
}

func (ts *timedStore) GetPendingAuthorization(ctx context.Context, hash []byte) (*store.PendingAuthorization, error) {
	defer observeSince(ts.getPendingAuthorization, time.Now())
	return ts.Store.GetPendingAuthorization(ctx, hash)
}

func (ts *timedStore) GetSession(ctx context.Context, hash []byte) (*store.Session, error) {
	defer observeSince(ts.getSession, time.Now())
	return ts.Store.GetSession(ctx, hash)
}

func (ts *timedStore) ListSigningKeys(ctx context.Context, now time.Time) ([]*store.SigningKey, error) {
	defer observeSince(ts.listSigningKeys, time.Now())
	return ts.Store.ListSigningKeys(ctx, now)
}

func (ts *timedStore) Ping(ctx context.Context) error {
	defer observeSince(ts.ping, time.Now())
	return ts.Store.Ping(ctx)
}

func (ts *timedStore) PurgeClients(ctx context.Context, q store.ClientPurge) ([]*store.Client, error) {
	defer observeSince(ts.purgeClients, time.Now())
	return ts.Store.PurgeClients(ctx, q)
}

func (ts *timedStore) PutConsent(ctx context.Context, c *store.Consent) error {
	defer observeSince(ts.putConsent, time.Now())
	return ts.Store.PutConsent(ctx, c)
}

func (ts *timedStore) RedeemCode(ctx context.Context, hash []byte, now time.Time, g *store.Grant, at *store.AccessToken) error {
	defer observeSince(ts.redeemCode, time.Now())
	return ts.Store.RedeemCode(ctx, hash, now, g, at)
}

func (ts *timedStore) ReleaseIdempotencyKey(ctx context.Context, keyHash []byte, createdAt time.Time) error {
	defer observeSince(ts.releaseIdempotencyKey, time.Now())
	return ts.Store.ReleaseIdempotencyKey(ctx, keyHash, createdAt)
}

func (ts *timedStore) ReserveIdempotencyKey(ctx context.Context, r *store.IdempotencyRecord) error {
	defer observeSince(ts.reserveIdempotencyKey, time.Now())
	return ts.Store.ReserveIdempotencyKey(ctx, r)
}

func (ts *timedStore) TakePendingAuthorization(ctx context.Context, hash []byte) (*store.PendingAuthorization, error) {
	defer observeSince(ts.takePendingAuthorization, time.Now())
	return ts.Store.TakePendingAuthorization(ctx, hash)
}

func (ts *timedStore) TouchClient(ctx context.Context, id string, at, staleBefore time.Time) error {
	defer observeSince(ts.touchClient, time.Now())
	return ts.Store.TouchClient(ctx, id, at, staleBefore)
}

func (ts *timedStore) TouchSession(ctx context.Context, hash []byte, lastSeen, idleExpiresAt time.Time) error {
	defer observeSince(ts.touchSession, time.Now())
	return ts.Store.TouchSession(ctx, hash, lastSeen, idleExpiresAt)
}

func (ts *timedStore) UpdateClient(ctx context.Context, c *store.Client) error {
	defer observeSince(ts.updateClient, time.Now())
	return ts.Store.UpdateClient(ctx, c)
}

func (ts *timedStore) UpdateGrant(ctx context.Context, g *store.Grant, at *store.AccessToken) error {
	defer observeSince(ts.updateGrant, time.Now())
	return ts.Store.UpdateGrant(ctx, g, at)
}

func (ts *timedStore) UseAssertionID(ctx context.Context, clientID, jti string, expiresAt, now time.Time) error {
	defer observeSince(ts.useAssertionID, time.Now())
	return ts.Store.UseAssertionID(ctx, clientID, jti, expiresAt, now)
}

func (ts *timedStore) UseInitialToken(ctx context.Context, hash []byte, now time.Time) (*store.InitialToken, error) {
	defer observeSince(ts.useInitialToken, time.Now())
	return ts.Store.UseInitialToken(ctx, hash, now)
}

func observeSince(o prometheus.Observer, start time.Time) { o.Observe(time.Since(start).Seconds()) }
