package ota

import (
	"crypto/md5"
	"crypto/sha256"
	"hash"
)

// hasher computes SHA-256 (the identity) and MD5 (what Blynk devices
// check, x-md5) in one pass.
type hasher struct{ s, m hash.Hash }

func newHasher() *hasher { return &hasher{sha256.New(), md5.New()} }

func (h *hasher) Write(p []byte) (int, error) {
	h.s.Write(p)
	h.m.Write(p)
	return len(p), nil
}

func (h *hasher) sha256() (out [32]byte) { copy(out[:], h.s.Sum(nil)); return }
func (h *hasher) md5() (out [16]byte)    { copy(out[:], h.m.Sum(nil)); return }
