package tenancy

import (
	"unicode"
	"unicode/utf8"
)

// checkText refuses text no person types into a name or a search box:
// invalid UTF-8 (a JSON decoder would silently replace it, so the stored
// name would not be the one sent) and control characters (a NUL cuts a
// LIKE pattern short, so a search would match everything in scope).
// Descriptions may hold line breaks and tabs (multiline).
func checkText(what, s string, multiline bool) error {
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return invalid("%s must not contain control characters", what)
		}
	}
	return nil
}

// validName checks a name's text and that it has min to max characters.
func validName(what, s string, min, max int) error {
	if err := checkText(what, s, false); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(s); n < min || n > max {
		return invalid("%s must be %d to %d characters", what, min, max)
	}
	return nil
}

// MaxQuery is the longest search query (Blynk: query ≤ 255).
const MaxQuery = 255

// validQuery checks a search query; "" means no filter.
func validQuery(q string) error {
	if err := checkText("query", q, false); err != nil {
		return err
	}
	if utf8.RuneCountInString(q) > MaxQuery {
		return invalid("query must be at most %d characters", MaxQuery)
	}
	return nil
}
