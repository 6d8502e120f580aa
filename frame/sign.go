package frame

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Header names of Frame's request signing.
const (
	HeaderClientID  = "X-Frame-ClientId"
	HeaderTimestamp = "X-Frame-Timestamp"
	HeaderSignature = "X-Frame-Signature"
)

// Sign returns the documented request signature: the lowercase hex
// HMAC-SHA256, keyed with the client secret, of the decimal timestamp (seconds
// since the epoch) followed by the client id.
func Sign(secret []byte, clientID string, ts int64) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte(clientID))
	return hex.EncodeToString(m.Sum(nil))
}
