package store

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// An unknown username is checked against a hash of the store's own cost, so that it takes as
// long as a wrong password for a real account.
func TestDummyHashHasTheStoresCost(t *testing.T) {
	for _, cost := range []int{4, 10} {
		got, err := bcrypt.Cost([]byte(dummyHash(cost)))
		if err != nil || got != cost {
			t.Errorf("dummy hash for cost %d: cost %d, %v", cost, got, err)
		}
	}
}
