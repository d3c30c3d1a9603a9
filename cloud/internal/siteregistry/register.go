package siteregistry

import (
	"encoding/json"
	"net/http"
	"strings"

	"outpost/cloud/internal/tenancy"
)

// Register is POST /api/v1/gateway/register {"name","software"}: a new
// gateway gets its id, claim code and credential (201), once.
func (s *Registry) Register(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name     string `json:"name"`
		Software string `json:"software"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	if err := dec.Decode(&in); err != nil {
		writeJSONError(w, http.StatusBadRequest, "body must be {\"name\":…,\"software\":…}")
		return
	}
	g, code, cred, err := s.svc.RegisterSite(r.Context(), in.Name)
	if tenancy.CodeOf(err) == tenancy.Invalid {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		s.log.Error("gateway registration failed", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	s.log.Info("gateway registered", "gateway", g.ID, "name", g.Name, "software", in.Software)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(struct {
		GatewayID          string `json:"gatewayId"`
		ClaimCode          string `json:"claimCode"`
		ClaimCodeExpiresAt int64  `json:"claimCodeExpiresAt"` // Unix ms
		Credential         string `json:"credential"`
	}{Key(g.ID), code, g.ClaimExpiresAt.UnixMilli(), cred})
}

// RenewClaimCode is POST /api/v1/gateway/claim-code with the gateway's
// credential as bearer token: an unclaimed gateway whose code expired (or
// is about to) gets a new one.
func (s *Registry) RenewClaimCode(w http.ResponseWriter, r *http.Request) {
	cred, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g, code, err := s.svc.RenewClaimCode(r.Context(), strings.TrimSpace(cred))
	switch tenancy.CodeOf(err) {
	case "":
	case tenancy.Unauthenticated:
		writeJSONError(w, http.StatusUnauthorized, err.Error())
		return
	case tenancy.Conflict:
		writeJSONError(w, http.StatusConflict, err.Error())
		return
	default:
		s.log.Error("claim code renewal failed", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	s.log.Info("claim code renewed", "gateway", g.ID, "expiresAt", g.ClaimExpiresAt)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(struct {
		ClaimCode          string `json:"claimCode"`
		ClaimCodeExpiresAt int64  `json:"claimCodeExpiresAt"`
	}{code, g.ClaimExpiresAt.UnixMilli()})
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]map[string]string{"error": {"message": msg}})
}

// Limiter is a per-key quota (ratelimit.Keyed).
type Limiter interface{ Allow(key string) bool }

// LimitPerAddr answers 429 once a client address (addr of the request)
// has used its quota of lim.
func LimitPerAddr(lim Limiter, addr func(*http.Request) string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !lim.Allow(addr(r)) {
			w.Header().Set("Retry-After", "60")
			writeJSONError(w, http.StatusTooManyRequests, "too many registrations from this address")
			return
		}
		h(w, r)
	}
}
