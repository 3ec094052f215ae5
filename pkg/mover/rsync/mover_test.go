package rsync

import (
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestGeneratedKeysArePairedOpenSSHEd25519Keys(t *testing.T) {
	keys, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{KeySource, KeyDestination} {
		signer, err := ssh.ParsePrivateKey(keys[side])
		if err != nil {
			t.Fatalf("%s: %v", side, err)
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(keys[side+".pub"])
		if err != nil {
			t.Fatalf("%s.pub: %v", side, err)
		}
		if pub.Type() != ssh.KeyAlgoED25519 || string(pub.Marshal()) != string(signer.PublicKey().Marshal()) {
			t.Errorf("%s.pub does not match %s", side, side)
		}
	}
	if string(keys[KeySource]) == string(keys[KeyDestination]) {
		t.Error("source and destination share a key")
	}
}
