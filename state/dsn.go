package state

import (
	"net/url"
	"regexp"
)

// RedactDSN returns a DSN fit to print: the password of a URL DSN, and any
// password=... of a key/value one, replaced by "xxxxx".
func RedactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

var kvPassword = regexp.MustCompile(`(password\s*=\s*)('[^']*'|\S+)`)

// DSNPassword returns the password a DSN carries, "" if none, so that the
// caller can redact it from everything printed.
func DSNPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if p, has := u.User.Password(); has {
			return p
		}
		return u.Query().Get("password")
	}
	return ""
}
