package blynk

// LooksLikeLogin reports whether the first bytes of a connection are a
// Blynk login header: HW_LOGIN (29) or LOGIN (2) with a non-zero id and a
// non-empty body. The legacy server matched exactly "1D 00 01 00 20"
// (id 1, 32-byte token; PROTOCOL.md §1.14); we accept any id and length so
// that a malformed token still reaches the login handler and gets its
// INVALID_TOKEN answer instead of being taken for HTTP. first5 shorter than
// HeaderSize gives false.
func LooksLikeLogin(first5 []byte) bool {
	if len(first5) < HeaderSize {
		return false
	}
	cmd, id, n := ParseHeader(first5)
	return (cmd == CmdHWLogin || cmd == CmdLogin) && id != 0 && n != 0
}

// LooksLikeHTTP reports whether the first bytes of a connection start an
// HTTP request: one of the method prefixes the legacy server recognised on
// its shared port (PROTOCOL.md §1.14). It needs at least 4 bytes.
func LooksLikeHTTP(first5 []byte) bool {
	if len(first5) < 4 {
		return false
	}
	switch string(first5[:4]) {
	case "GET ", "POST", "PUT ", "HEAD", "OPTI", "PATC", "DELE", "TRAC", "CONN":
		return true
	}
	return false
}
