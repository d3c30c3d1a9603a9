-- Claim codes expire (issue 11): codes issued before this migration get
-- the default lifetime, 24 hours from the gateway's registration.
ALTER TABLE gateways ADD COLUMN claim_expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE gateways SET claim_expires_at = created_at + 86400000;
