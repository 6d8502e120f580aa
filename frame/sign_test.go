package frame_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/frameflow/frameflow/frame"
)

// The vectors were produced with the docs' own Python 3 example logic.
func TestSignMatchesDocsPythonVectors(t *testing.T) {
	data, err := os.ReadFile("../testdata/signing/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
			Timestamp    int64  `json:"timestamp"`
			Signature    string `json:"signature"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) < 4 {
		t.Fatalf("only %d vectors", len(file.Vectors))
	}
	for _, v := range file.Vectors {
		if got := frame.Sign([]byte(v.ClientSecret), v.ClientID, v.Timestamp); got != v.Signature {
			t.Errorf("Sign(%q, %d) = %s, want %s", v.ClientID, v.Timestamp, got, v.Signature)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	secret := []byte(testSecret)
	for i := 0; b.Loop(); i++ {
		frame.Sign(secret, testClientID, int64(1_700_000_000+i))
	}
}
